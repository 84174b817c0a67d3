/** Pipeline stages for tests that build records without a tenant: key names only, no keys. */
import { PassthroughProtector } from "../../src/core/protect.js";
import { compilePolicy } from "../../src/core/privacy/policy.js";
import { keyNameRedactor } from "../../src/core/privacy/redactor.js";
import type { PipelineStages } from "../../src/core/record.js";

export function keyNameStages(): PipelineStages {
  const redactor = keyNameRedactor(compilePolicy(undefined, null));
  return { redactor: () => redactor, protector: new PassthroughProtector() };
}
