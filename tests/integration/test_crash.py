#!/usr/bin/env python3
# sluice-integration: own-daemon
"""kill -9 in the middle of large uploads loses nothing that was acknowledged and leaves nothing
half-written: after a restart on the same data dir every object written before the crash reads
back byte-identical, each interrupted key is either absent or whole, DATA/tmp/ (where uploads in
progress live) is empty, and the data dir holds no leftovers of the interrupted bodies. A second
crash lands in a burst of small acknowledged PUTs: each acknowledged one must survive.

This file starts and kills its own daemons (SLUICE_BIN), so tests/integration/run starts none
for it; each daemon's stderr goes to SLUICE_DAEMON_LOG_DIR for the runner's sanitizer check.
Output: "ok - NAME" / "not ok - NAME" lines for the runner.
"""
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time

import boto3.s3.transfer
from botocore.exceptions import ClientError

import harness as h

BIN = os.environ.get("SLUICE_BIN")
TMP = os.environ.get("SLUICE_TEST_TMP") or tempfile.gettempdir()
MIB = 1024 * 1024
CFG = h.config(connect_timeout=5, read_timeout=60)


class Daemon:
    def __init__(self, data):
        self.data = data
        self.proc = None
        self.port = None

    def start(self):
        self.port = h.free_port()
        self.proc = h.serve(self.data, self.port, kind="crash-daemon")
        return self

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def client(self):
        return h.client("s3", CFG, endpoint=self.endpoint)

    def kill9(self):
        h.kill9(self.proc)

    def stop(self):
        """SIGTERM: the daemon must exit 0 within 20 s."""
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon had died (status {self.proc.returncode})")
        h.stop(self.proc)


class PacedFile:
    """A seekable file body whose bytes go out at a limited rate once botocore starts sending it
    (armed from the before-send event: botocore reads the body beforehand for the checksum and
    the payload hash), so that the kill lands in the middle of the upload."""

    def __init__(self, path, rate):
        self.f = open(path, "rb")
        self.rate = rate
        self.armed = False
        self.sent = 0
        self.t0 = None
        self.size = os.path.getsize(path)

    def arm(self):
        self.armed = True
        self.sent = 0
        self.t0 = time.monotonic()

    def read(self, n=-1):
        if self.armed:
            n = min(n if n and n > 0 else MIB, 256 * 1024)
            ahead = self.sent / self.rate - (time.monotonic() - self.t0)
            if ahead > 0:
                time.sleep(ahead)
        data = self.f.read(n)
        if self.armed:
            self.sent += len(data)
        return data

    def seek(self, *a):
        return self.f.seek(*a)

    def tell(self):
        return self.f.tell()

    def __len__(self):
        return self.size

    def close(self):
        self.f.close()


def arm_paced_bodies(request, **kw):
    if isinstance(request.body, PacedFile):
        request.body.arm()


def random_file(path, size):
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 4 * MIB))
            f.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def sha256_object(s3, bucket, key):
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(MIB), b""):
        digest.update(chunk)
    return digest.hexdigest()


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


SWEEP_WAIT = 15.0  # the daemon may clear leftovers beside serving, so give it a moment


def check_tmp_empty(data):
    tmp = os.path.join(data, "tmp")
    deadline = time.monotonic() + SWEEP_WAIT
    while True:
        assert os.path.isdir(tmp), f"{tmp} does not exist"
        left = os.listdir(tmp)
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(left)} files still in DATA/tmp {SWEEP_WAIT:.0f} s after the restart: {left[:5]}")
        time.sleep(0.1)


# ------------------------------------------------------------------------------------------------

def test_kill9_during_large_uploads():
    work = tempfile.mkdtemp(prefix="crash-", dir=TMP)
    data = os.path.join(work, "data")
    os.makedirs(data)
    d = Daemon(data).start()
    try:
        s3 = d.client()
        s3.create_bucket(Bucket="survivors")
        # Objects written before the crash: inline-sized, file-sized, multipart, a copy.
        before = {}
        for key, size in (("empty", 0), ("one-k", 1024), ("hundred-k", 100 * 1024), ("five-m", 5 * MIB)):
            blob = os.urandom(size)
            s3.put_object(Bucket="survivors", Key=key, Body=blob)
            before[key] = hashlib.sha256(blob).hexdigest()
        mp_path = os.path.join(work, "mp")
        before["multipart-20m"] = random_file(mp_path, 20 * MIB)
        s3.upload_file(mp_path, "survivors", "multipart-20m",
                       Config=boto3.s3.transfer.TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB))
        s3.copy_object(Bucket="survivors", Key="copy-of-five-m", CopySource={"Bucket": "survivors", "Key": "five-m"})
        before["copy-of-five-m"] = before["five-m"]
        os.unlink(mp_path)
        # A multipart upload in progress: its acknowledged part must survive the crash too.
        part1 = os.urandom(5 * MIB)
        upload_id = s3.create_multipart_upload(Bucket="survivors", Key="pending")["UploadId"]
        etag1 = s3.upload_part(Bucket="survivors", Key="pending", UploadId=upload_id, PartNumber=1,
                               Body=part1)["ETag"]
        live_bytes = sum((0, 1024, 100 * 1024, 5 * MIB, 20 * MIB, 5 * MIB, 5 * MIB))

        # Three 100 MiB PUTs, paced at 40 MiB/s each; kill -9 once each has sent 30 MiB.
        size = 100 * MIB
        digests, bodies, outcome = {}, {}, {}
        for i in range(3):
            p = os.path.join(work, f"big{i}")
            digests[f"big{i}"] = random_file(p, size)
            bodies[f"big{i}"] = PacedFile(p, 40 * MIB)
        uploader = d.client()
        uploader.meta.events.register("before-send.s3.PutObject", arm_paced_bodies)

        def put(key):
            try:
                uploader.put_object(Bucket="survivors", Key=key, Body=bodies[key], ContentLength=size)
                outcome[key] = "acknowledged"
            except Exception as e:  # noqa: BLE001 - the daemon dies under it
                outcome[key] = f"failed: {type(e).__name__}"

        threads = [threading.Thread(target=put, args=(k,)) for k in bodies]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(b.sent >= 30 * MIB for b in bodies.values()):
            time.sleep(0.02)
        assert all(b.sent >= 30 * MIB for b in bodies.values()), \
            f"uploads did not get going: {[b.sent for b in bodies.values()]}"
        # Kill in the first half of a second and restart at once, as a supervisor would: the
        # restarted daemon must clear leftovers even when they date from the same second as its
        # own start.
        while not 0.3 <= time.time() % 1 < 0.4:
            time.sleep(0.005)
        sent_at_kill = {k: b.sent for k, b in bodies.items()}
        d.kill9()
        d = Daemon(data).start()
        for t in threads:
            t.join(60)
        for b in bodies.values():
            b.close()
        print(f"# killed with {', '.join(f'{k}: {v // MIB} MiB sent' for k, v in sent_at_kill.items())}; "
              f"clients saw {outcome}")
        s3 = d.client()
        check_tmp_empty(data)
        for key, digest in before.items():
            assert sha256_object(s3, "survivors", key) == digest, f"{key} changed across the crash"
        for key, digest in digests.items():
            try:
                head = s3.head_object(Bucket="survivors", Key=key)
            except ClientError as e:
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e
                assert outcome[key] != "acknowledged", f"{key} was acknowledged, then lost"
                continue
            assert head["ContentLength"] == size, f"{key} is there but {head['ContentLength']} bytes long"
            assert sha256_object(s3, "survivors", key) == digest, f"{key} is there but not the uploaded bytes"
            live_bytes += size
        listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="survivors").get("Contents", []))
        assert set(before) <= set(listed), f"listing lost objects: {sorted(set(before) - set(listed))}"
        assert set(listed) <= set(before) | set(digests), f"unexpected keys: {listed}"
        # The pending multipart upload is still there and can be finished.
        ups = s3.list_multipart_uploads(Bucket="survivors").get("Uploads", [])
        assert [(u["Key"], u["UploadId"]) for u in ups] == [("pending", upload_id)], ups
        etag2 = s3.upload_part(Bucket="survivors", Key="pending", UploadId=upload_id, PartNumber=2,
                               Body=b"tail")["ETag"]
        s3.complete_multipart_upload(Bucket="survivors", Key="pending", UploadId=upload_id,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag1},
                                                                {"PartNumber": 2, "ETag": etag2}]})
        assert sha256_object(s3, "survivors", "pending") == hashlib.sha256(part1 + b"tail").hexdigest()
        live_bytes += 5 * MIB  # the completed object (its part is no longer separate, or is shared)
        # New writes work after the restart.
        s3.put_object(Bucket="survivors", Key="after", Body=b"after the crash")
        assert s3.get_object(Bucket="survivors", Key="after")["Body"].read() == b"after the crash"
        # What the interrupted bodies wrote is gone, not just hidden: the data dir holds the live
        # objects plus metadata, not another 90+ MiB of partial uploads.
        deadline = time.monotonic() + SWEEP_WAIT
        while (used := dir_bytes(data)) > live_bytes + 64 * MIB and time.monotonic() < deadline:
            time.sleep(0.2)
        assert used <= live_bytes + 64 * MIB, \
            f"data dir holds {used // MIB} MiB for {live_bytes // MIB} MiB of objects: leftovers of the crash"
        print(f"# data dir: {used // MIB} MiB for {live_bytes // MIB} MiB of live objects")
        d.stop()
    finally:
        if d.proc and d.proc.poll() is None:
            d.kill9()
        shutil.rmtree(work, ignore_errors=True)


def test_kill9_during_small_put_burst():
    work = tempfile.mkdtemp(prefix="crash-small-", dir=TMP)
    data = os.path.join(work, "data")
    os.makedirs(data)
    d = Daemon(data).start()
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()
    try:
        s3 = d.client()
        s3.create_bucket(Bucket="burst")

        def writer(n):
            c = d.client()
            i = 0
            while not stop.is_set():
                key = f"w{n}/{i:05d}"
                body = os.urandom(100 + (i * 37) % 5000)
                try:
                    c.put_object(Bucket="burst", Key=key, Body=body)
                except Exception:  # noqa: BLE001 - the daemon dies under it
                    return
                with lock:
                    acked[key] = hashlib.sha256(body).hexdigest()
                i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        d.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        assert len(acked) >= 150, f"only {len(acked)} PUTs acknowledged in 30 s"
        print(f"# killed after {len(acked)} acknowledged PUTs")
        d = Daemon(data).start()
        s3 = d.client()
        check_tmp_empty(data)
        listed = {o["Key"]: o["Size"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="burst")
                  for o in p.get("Contents", [])}
        lost = sorted(set(acked) - set(listed))
        assert not lost, f"{len(lost)} acknowledged PUTs lost, e.g. {lost[:5]}"
        # At most one in-flight PUT per writer may have landed without its acknowledgement.
        assert len(set(listed) - set(acked)) <= 4, sorted(set(listed) - set(acked))
        for key, digest in acked.items():
            got = hashlib.sha256(s3.get_object(Bucket="burst", Key=key)["Body"].read()).hexdigest()
            assert got == digest, f"{key} does not read back as written"
        d.stop()
    finally:
        stop.set()
        if d.proc and d.proc.poll() is None:
            d.kill9()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if not BIN or not os.access(BIN, os.X_OK):
        print("ok - crash # SKIP SLUICE_BIN is not set")
        sys.exit(0)
    h.main([test_kill9_during_large_uploads, test_kill9_during_small_put_burst], timings=True)
