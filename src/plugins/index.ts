/**
 * The built-in kinds of follower: what `genlog followers add` and the package's `openLog`
 * know without configuration.
 */
import type { FollowerKind } from "../log/followers.js";
import { FileSink } from "./file-sink.js";
import { siemFollower } from "./siem.js";
import { webhookFollower } from "./webhook.js";
import { reportFollower } from "./report.js";
export { ipfsFollower, type IpfsConfig } from "./ipfs.js";
export {
  KuboPublisher,
  PinningServicePublisher,
  type Publisher,
  type CarToPublish,
  type PublishOutcome,
} from "./publishers.js";
import { ipfsFollower } from "./ipfs.js";

export {
  webhookFollower,
  signatureHeaders,
  type WebhookConfig,
  type WebhookPayload,
} from "./webhook.js";
export { siemFollower, type SiemConfig } from "./siem.js";
export {
  reportFollower,
  REPORT_PERIODS,
  type ReportConfig,
  type ReportPeriod,
  type TenantReport,
} from "./report.js";
export { FileSink, FILE_FORMATS, type FileFormat, type FileSinkConfig } from "./file-sink.js";
export {
  SIEM_FORMATS,
  OCSF_VERSION,
  ECS_VERSION,
  cloudEvent,
  ecsDocument,
  ocsfEvent,
  type SiemFormat,
  type SiemSource,
} from "./siem-formats.js";

export const BUILTIN_FOLLOWERS: readonly FollowerKind[] = [
  webhookFollower as FollowerKind,
  siemFollower as FollowerKind,
  new FileSink() as FollowerKind,
  reportFollower as FollowerKind,
  ipfsFollower as FollowerKind,
];
