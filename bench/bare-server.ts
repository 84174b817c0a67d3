/**
 * The peer of the HTTP benchmark: a bare Fastify endpoint that only parses the body and
 * answers 201, on the same route as genlog's. Prints its URL as one JSON line, like
 * `genlog serve --json`, and stops on SIGTERM.
 */
import Fastify from "fastify";

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.post("/v1/tenants/:tenant/events", async (request, reply) => {
  const body = request.body as unknown;
  return reply.code(201).send({ received: Array.isArray(body) ? body.length : 1 });
});
const url = await app.listen({ port: 0, host: "127.0.0.1" });
process.stdout.write(`${JSON.stringify({ url })}\n`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
