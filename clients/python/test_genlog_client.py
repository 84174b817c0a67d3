"""Tests of the Python client against a real genlog server (GENLOG_URL, GENLOG_TOKEN,
GENLOG_TENANT given by test/server/python-client.test.ts, which starts the server)."""

import os
import unittest
import uuid

import genlog_client
from genlog_client import GenlogClient, GenlogError, log_generation_event


class SeedCall(unittest.TestCase):
    def test_the_seed_call_logs_a_pseudonymised_record(self):
        record = log_generation_event("backend", user="alice", meta={"stack": "Flask"})
        self.assertEqual(record["type"], "backend")
        self.assertEqual(record["meta"], {"stack": "Flask"})
        self.assertEqual(record["tenant"], os.environ["GENLOG_TENANT"])
        self.assertTrue(record["actor"].startswith("sub_"), record["actor"])
        self.assertNotIn("alice", str(record))

    def test_secrets_are_redacted_before_anything_is_stored(self):
        record = log_generation_event("frontend", meta={"framework": "React", "api_key": "sk-live-123"})
        self.assertEqual(record["meta"]["api_key"], "[REDACTED]")

    def test_an_id_makes_a_retry_return_the_first_record(self):
        event_id = str(uuid.uuid4())
        first = log_generation_event("assets", user="bob", id=event_id)
        again = log_generation_event("assets", user="bob", id=event_id)
        self.assertEqual(first["seq"], again["seq"])


class Errors(unittest.TestCase):
    def test_bad_input_names_the_field(self):
        with self.assertRaises(GenlogError) as caught:
            log_generation_event("Not A Slug")
        self.assertEqual(caught.exception.code, "GENLOG_E_INVALID_INPUT")
        self.assertEqual(caught.exception.status, 400)
        self.assertEqual(caught.exception.details.get("pointer"), "/type")

    def test_a_bad_token_is_refused(self):
        client = GenlogClient(token="glt_" + "x" * 43)
        with self.assertRaises(GenlogError) as caught:
            client.log_generation_event("backend")
        self.assertEqual(caught.exception.code, "GENLOG_E_UNAUTHENTICATED")
        self.assertEqual(caught.exception.status, 401)

    def test_a_writer_cannot_read(self):
        with self.assertRaises(GenlogError) as caught:
            GenlogClient().query(limit=1)
        self.assertEqual(caught.exception.code, "GENLOG_E_FORBIDDEN")

    def test_configure_replaces_the_default_client(self):
        client = genlog_client.configure(tenant=os.environ["GENLOG_TENANT"], purpose="tests")
        self.assertIsInstance(client, GenlogClient)
        self.assertEqual(log_generation_event("report")["type"], "report")


if __name__ == "__main__":
    unittest.main()
