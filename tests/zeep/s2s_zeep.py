"""Drives the gateway with the stock Python SOAP client zeep, loaded from the served WSDL.

Usage: python3 s2s_zeep.py https://localhost:PORT path/to/dev-ca.pem VALID.DAT INVALID.DAT
(a valid TRACS tenant file for TRACM10001 and a broken one, written by the Rust test)
Exits non-zero on the first failed check.
"""
import hashlib
import sys

import requests
from zeep import Client
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

TNS = "{urn:imax-gateway:s2s:1}"
url, ca = sys.argv[1], sys.argv[2]
valid = open(sys.argv[3], "rb").read()
invalid = open(sys.argv[4], "rb").read()
short = open(sys.argv[5], "rb").read()
session = requests.Session()
session.verify = ca
# REQUESTS_CA_BUNDLE and proxy variables in the environment would override the CA above.
session.trust_env = False


def client(mid, password):
    c = Client(url + "/s2s?wsdl", transport=Transport(session=session),
               wsse=UsernameToken(mid, password))
    return c.service


def fault(call):
    try:
        call()
    except Fault as f:
        return f
    raise AssertionError("expected a fault")


def fault_code(call):
    f = fault(call)
    code = f.detail.find(".//" + TNS + "code").text
    status = int(f.detail.find(".//" + TNS + "status").text)
    return code, status, f.message


site = client("M10002", "Site-Manager-Pass-2")
data = valid
digest = hashlib.sha256(data).hexdigest()
r = site.SendFile(mailbox="TRACM10001", mailboxPassword="Maple-Mailbox-2026",
                  fileName="TENANT.DAT", sha256=digest, content=data)
assert r.status == 200, r
assert r.receipt.toMailbox == "TRACM20001", r
assert r.receipt.sha256 == digest, r
assert r.receipt.sizeBytes == len(data), r
message_id = r.receipt.messageId

ca_user = client("M20001", "Contract-Admin-Pass-4")
box = dict(mailbox="TRACM20001", mailboxPassword="Ca1-Mailbox-2026")
listing = ca_user.ListMessages(folder="receivedFromOthers", **box)
assert listing.status == 200, listing
assert [m.messageId for m in listing.message] == [message_id], listing

got = ca_user.GetMessage(messageId=message_id, **box)
assert got.content == data, got
assert got.message.sha256 == digest, got
assert got.message.retrievedAt is not None, got

# The CA answers the file it fetched; the answer goes back to the sender, tied to it.
answer = ca_user.SendFile(fileName="ANSWER.TXT", inReplyTo=message_id,
                          content=b"Unit 4: move-in date differs.\r\n", **box)
assert answer.status == 200 and answer.receipt.routedBy == "reply", answer
assert answer.receipt.toMailbox == "TRACM10001", answer
assert answer.receipt.inReplyTo == message_id, answer
maple_box = dict(mailbox="TRACM10001", mailboxPassword="Maple-Mailbox-2026")
from_others = site.ListMessages(folder="receivedFromOthers", **maple_box)
assert [(m.messageId, m.inReplyTo) for m in from_others.message] == [
    (answer.receipt.messageId, message_id)], from_others
sent = site.ListMessages(folder="sentToOthers", **maple_box)
assert sent.message[0].answeredAt is not None, sent

acked = ca_user.AckMessage(messageId=message_id, **box)
assert acked.message.acknowledgedAt is not None, acked
empty = ca_user.ListMessages(folder="receivedFromOthers", **box)
assert empty.status == 601, empty

code, status, message = fault_code(lambda: client("M10002", "wrong").ListMessages(
    mailbox="TRACM10001", mailboxPassword="Maple-Mailbox-2026", folder="sentToOthers"))
assert (code, status) == ("AuthenticationFailed", 401), (code, status)
assert message.startswith("The M-ID or password is not correct"), message

code, status, _ = fault_code(lambda: site.GetMessage(
    mailbox="TRACM10001", mailboxPassword="not-it", messageId=message_id))
assert (code, status) == ("MailboxAuthenticationFailed", 400), (code, status)

code, status, _ = fault_code(lambda: client("M10003", "New-Hire-Pass-3").SendFile(
    mailbox="TRACM10001", mailboxPassword="Maple-Mailbox-2026", fileName="X", content=b"x"))
assert (code, status) == ("NotInWorkingGroup", 403), (code, status)

code, _, _ = fault_code(lambda: site.SendFile(
    mailbox="TRACM10001", mailboxPassword="Maple-Mailbox-2026", fileName="X",
    sha256="0" * 64, content=b"x"))
assert code == "ChecksumMismatch", code

# The same transmission again is a duplicate naming the first; a marked resend goes through.
maple = dict(mailbox="TRACM10001", mailboxPassword="Maple-Mailbox-2026", fileName="TENANT.DAT")
code, status, message = fault_code(lambda: site.SendFile(content=data, **maple))
assert (code, status) == ("DuplicateFile", 300), (code, status)
assert message_id in message, message
again = site.SendFile(content=data, resend=True, **maple)
assert again.status == 200 and again.receipt.routedBy == "header", again

# A broken TRACS file is refused with its located problems.
f = fault(lambda: site.SendFile(content=invalid, **maple))
assert f.detail.find(".//" + TNS + "code").text == "InvalidTracsFile"
problems = [p.text for p in f.detail.findall(".//" + TNS + "problem")]
assert problems and problems[0].startswith("line "), problems

# A file whose only problems lie in fields of unconfirmed layout is accepted; TRACS's
# format-error reply waits in Received from TRACS, tied to it.
ok = site.SendFile(content=short, **maple)
assert ok.status == 200 and ok.receipt.formatErrors.problems == 1, ok
from_tracs = site.ListMessages(folder="receivedFromTracs", **maple_box)
assert [(m.messageId, m.inReplyTo) for m in from_tracs.message] == [
    (ok.receipt.formatErrors.replyId, ok.receipt.messageId)], from_tracs
errors = site.GetMessage(messageId=ok.receipt.formatErrors.replyId, **maple_box)
assert b"TENER" in errors.content and b"Record length" in errors.content, errors.content

print("zeep: all checks passed")
