#!/usr/bin/env python3
# sluice-integration: own-daemon
"""kill -9 between upload and delivery loses nothing: events accepted (PutEvents) and object
changes committed (the outbox) before the crash are all delivered after a restart on the same
data dir. The receiver is down at first, so every delivery is still pending when the daemon is
killed; it comes up before the restart. Output: TAP-like lines for tests/integration/run."""
import json
import signal
import tempfile

import harness as h


def test_kill9_between_upload_and_delivery():
    data = tempfile.mkdtemp(prefix="sluice-evcrash-")
    port, hook_port = h.free_port(), h.free_port()
    ep = "http://127.0.0.1:%d" % port
    p = h.serve(data, port)
    try:
        ev, s3 = h.client("events", endpoint=ep), h.client("s3", endpoint=ep)
        conn = ev.create_connection(Name="c", AuthorizationType="API_KEY",
                                    AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
        dest = ev.create_api_destination(Name="d", ConnectionArn=conn["ConnectionArn"], HttpMethod="POST",
                                         InvocationEndpoint="http://127.0.0.1:%d/hook" % hook_port)["ApiDestinationArn"]
        ev.put_rule(Name="r", EventPattern=json.dumps({"source": ["crash.test", "aws.s3"]}))
        ev.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": dest, "InputPath": "$.detail"}])
        s3.create_bucket(Bucket="crashbucket")
        s3.put_bucket_notification_configuration(Bucket="crashbucket",
                                                 NotificationConfiguration={"EventBridgeConfiguration": {}})
        for i in range(5):
            ev.put_events(Entries=[{"Source": "crash.test", "DetailType": "x", "Detail": json.dumps({"n": i})}])
            s3.put_object(Bucket="crashbucket", Key="k%d" % i, Body=b"data")
    finally:
        h.kill9(p)
    srv = h.Receiver(port=hook_port)
    p = h.serve(data, port)
    try:
        got = [json.loads(r["body"]) for r in srv.wait(10, timeout=20)]
        nums = sorted(d["n"] for d in got if "n" in d)
        keys = sorted(d["object"]["key"] for d in got if "object" in d)
        assert nums == [0, 1, 2, 3, 4], got
        assert keys == ["k0", "k1", "k2", "k3", "k4"], got
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        srv.shutdown()


if __name__ == "__main__":
    h.main([test_kill9_between_upload_and_delivery])
