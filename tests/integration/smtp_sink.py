"""An aiosmtpd handler for the SNS tests: every message received is written, as received, to a
file in the directory given on the command line (one file per message, named by arrival).

    python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_sink.Sink DIR

Runs under Debian's python3, which has python3-aiosmtpd (scripts/deps)."""
import itertools
import os


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count()

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("smtp_sink.Sink needs the directory to write messages to")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        path = os.path.join(self.directory, "%04d.eml" % n)
        with open(path + ".tmp", "wb") as f:
            f.write(("X-Rcpt: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            f.write(envelope.content if isinstance(envelope.content, bytes)
                    else envelope.content.encode())
        os.rename(path + ".tmp", path)
        return "250 OK"
