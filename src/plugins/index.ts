/**
 * The built-in kinds of follower: what `genlog followers add` and the package's `openLog`
 * know without configuration.
 */
import type { FollowerKind } from "../log/followers.js";
import { webhookFollower } from "./webhook.js";

export {
  webhookFollower,
  signatureHeaders,
  type WebhookConfig,
  type WebhookPayload,
} from "./webhook.js";

export const BUILTIN_FOLLOWERS: readonly FollowerKind[] = [webhookFollower as FollowerKind];
