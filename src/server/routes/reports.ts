/** The access log, the access report and the GDPR report. */
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { PageQuery, TenantParams, defined, described, tenantOf } from "./common.js";
import { typeboxCompiler } from "./validate.js";

const AccessQuery = Type.Object(PageQuery, { additionalProperties: false });
const WindowQuery = Type.Object(
  { since: PageQuery.since, until: PageQuery.until },
  { additionalProperties: false },
);

export const reportRoutes: FastifyPluginAsync = async (app) => {
  app.setValidatorCompiler(typeboxCompiler());

  app.get(
    "/tenants/:tenant/access",
    {
      config: { permission: "reports.read", operation: "accessLog" },
      schema: {
        ...described(
          "reports",
          "reports.read",
          "The access log",
          "Records of the tenant's access log (`genlog.access`), a page at a time: who read, exported, proved, erased or administered what, when, why, allowed or denied. `status=failed` lists denials and failures.",
        ),
        params: TenantParams,
        querystring: AccessQuery,
      },
    },
    async (request) =>
      request.genlog.accessLog(
        defined({ ...(request.query as Static<typeof AccessQuery>), tenant: tenantOf(request) }),
      ),
  );

  app.get(
    "/tenants/:tenant/reports/access",
    {
      config: { permission: "reports.read", operation: "accessReport" },
      schema: {
        ...described(
          "reports",
          "reports.read",
          "The access report",
          "Accesses by principal, with anomalies flagged: denied attempts, erasures, accesses outside working hours, a day far above a principal's usual.",
        ),
        params: TenantParams,
        querystring: WindowQuery,
      },
    },
    async (request) =>
      request.genlog.accessReport(
        defined({ ...(request.query as Static<typeof WindowQuery>), tenant: tenantOf(request) }),
      ),
  );

  app.get(
    "/tenants/:tenant/reports/generation",
    {
      config: { permission: "reports.read", operation: "generationReport" },
      schema: {
        ...described(
          "reports",
          "reports.read",
          "The generation report",
          "Generations per type, sector, status and UTC day, the top actors (pseudonyms), failure rates and redactions.",
        ),
        params: TenantParams,
        querystring: WindowQuery,
      },
    },
    async (request) =>
      request.genlog.generationReport(
        defined({ ...(request.query as Static<typeof WindowQuery>), tenant: tenantOf(request) }),
      ),
  );

  app.get(
    "/tenants/:tenant/reports/gdpr",
    {
      config: { permission: "reports.read", operation: "gdprReport" },
      schema: {
        ...described(
          "reports",
          "reports.read",
          "The GDPR report",
          "Subjects held and erased, erasures and exports, retention and the next purge, purges, legal holds, redactions per rule.",
        ),
        params: TenantParams,
      },
    },
    async (request) => request.genlog.gdprReport(tenantOf(request)),
  );
};
