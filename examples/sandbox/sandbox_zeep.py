"""The vendor sandbox's conformance kit, in Python with zeep (issue 31).

Sends a TRACS file from a sandbox mailbox (TRACX...) to the sandbox's simulated TRACS, then
fetches TRACS's answers tied to it (inReplyTo) from "Received from TRACS" and prints them.

Usage:
  pip install zeep
  python3 sandbox_zeep.py https://GATEWAY CA.pem M-ID PASSWORD TRACX00001 MAILBOX-PASSWORD FILE

CA.pem is the gateway's CA certificate (a public gateway: the system's bundle, e.g.
/etc/ssl/certs/ca-certificates.crt). Exits non-zero on the first failed check.
"""
import hashlib
import os
import sys

import requests
from zeep import Client
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

url, ca, mid, password, mailbox, mailbox_password, path = sys.argv[1:8]
data = open(path, "rb").read()
session = requests.Session()
session.verify = ca
session.trust_env = False
service = Client(url + "/s2s?wsdl", transport=Transport(session=session),
                 wsse=UsernameToken(mid, password)).service
box = dict(mailbox=mailbox, mailboxPassword=mailbox_password)

# 1. SendFile to TRACS: in the sandbox, the simulated TRACS (TRACXTRACS). The SHA-256 is checked.
digest = hashlib.sha256(data).hexdigest()
sent = service.SendFile(toMailbox="TRACS", fileName=os.path.basename(path), sha256=digest,
                        content=data, **box)
assert sent.status == 200, sent
assert sent.receipt.toMailbox == "TRACXTRACS", sent
message_id = sent.receipt.messageId
print("sent", message_id, "to", sent.receipt.toMailbox)

# 2. ListMessages of Received from TRACS: the answers whose inReplyTo is the file sent.
listing = service.ListMessages(folder="receivedFromTracs", **box)
assert listing.status == 200, listing
answers = [m for m in listing.message if m.inReplyTo == message_id]
assert answers, "no answer tied to " + message_id

# 3. GetMessage of each answer, then AckMessage so that it leaves the unread listing.
for m in answers:
    got = service.GetMessage(messageId=m.messageId, **box)
    assert got.status == 200, got
    assert hashlib.sha256(got.content).hexdigest() == got.message.sha256, got
    print("---", m.fileName)
    print(got.content.decode("ascii"))
    service.AckMessage(messageId=m.messageId, **box)
print("sandbox: answered", message_id, "with", len(answers), "message(s)")
