// The vendor sandbox's conformance kit, in Node.js with the npm `soap` client (issue 31).
//
// Sends a TRACS file from a sandbox mailbox (TRACX...) to the sandbox's simulated TRACS, then
// fetches TRACS's answers tied to it (inReplyTo) from "Received from TRACS" and prints them.
//
// Usage:
//   npm install soap
//   NODE_EXTRA_CA_CERTS=CA.pem node sandbox_soap.js https://GATEWAY M-ID PASSWORD TRACX00001 MAILBOX-PASSWORD FILE
// Exits non-zero on the first failed check.
'use strict';
const soap = require('soap');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const assert = require('assert');

const [url, mid, password, mailbox, mailboxPassword, file] = process.argv.slice(2);
const data = fs.readFileSync(file);
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

(async () => {
  const c = await soap.createClientAsync(url + '/s2s?wsdl');
  c.setSecurity(new soap.WSSecurity(mid, password, { passwordType: 'PasswordText', hasTimeStamp: false, hasNonce: false }));
  const box = { mailbox, mailboxPassword };

  // 1. SendFile to TRACS: in the sandbox, the simulated TRACS (TRACXTRACS).
  const [sent] = await c.SendFileAsync({
    ...box,
    toMailbox: 'TRACS',
    fileName: path.basename(file),
    sha256: sha256(data),
    content: data.toString('base64'),
  });
  assert.strictEqual(sent.status, 200, JSON.stringify(sent));
  assert.strictEqual(sent.receipt.toMailbox, 'TRACXTRACS');
  const id = sent.receipt.messageId;
  console.log('sent', id, 'to', sent.receipt.toMailbox);

  // 2. ListMessages of Received from TRACS: the answers whose inReplyTo is the file sent.
  const [listing] = await c.ListMessagesAsync({ ...box, folder: 'receivedFromTracs' });
  const messages = [].concat((listing && listing.message) || []);
  const answers = messages.filter((m) => m.inReplyTo === id);
  assert.ok(answers.length > 0, 'no answer tied to ' + id);

  // 3. GetMessage of each answer (base64 content), then AckMessage.
  for (const m of answers) {
    const [got] = await c.GetMessageAsync({ ...box, messageId: m.messageId });
    const content = Buffer.from(got.content, 'base64');
    assert.strictEqual(sha256(content), got.message.sha256);
    console.log('---', m.fileName);
    console.log(content.toString('ascii'));
    await c.AckMessageAsync({ ...box, messageId: m.messageId });
  }
  console.log('sandbox: answered', id, 'with', answers.length, 'message(s)');
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
