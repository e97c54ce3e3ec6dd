// Drives the gateway with the stock npm SOAP client (`soap`), loaded from the served WSDL, its
// requests sent as MTOM/XOP (forceMTOM) with the file as a binary attachment, and its
// GetMessage answer read as MTOM (parseResponseAttachments).
//
// Usage: NODE_EXTRA_CA_CERTS=dev-ca.pem node mtom.js https://localhost:PORT FILE
// Exits non-zero on the first failed check.
'use strict';
const soap = require('soap');
const fs = require('fs');
const crypto = require('crypto');
const assert = require('assert');

const [url, path] = process.argv.slice(2);
const file = fs.readFileSync(path);
const digest = crypto.createHash('sha256').update(file).digest('hex');
const XOP = 'http://www.w3.org/2004/08/xop/include';

async function client(mid, password) {
  const c = await soap.createClientAsync(url + '/s2s?wsdl', { parseResponseAttachments: true });
  c.setSecurity(new soap.WSSecurity(mid, password, { passwordType: 'PasswordText', hasTimeStamp: false, hasNonce: false }));
  return c;
}

(async () => {
  const site = await client('M10002', 'Site-Manager-Pass-2');
  const [sent] = await site.SendFileAsync(
    {
      mailbox: 'TRACM10001',
      mailboxPassword: 'Maple-Mailbox-2026',
      toMailbox: 'TRACM20001',
      fileName: 'LETTER.PDF',
      content: { $xml: `<xop:Include xmlns:xop="${XOP}" href="cid:letter@node-soap"/>` },
    },
    {
      forceMTOM: true,
      attachments: [{ mimetype: 'application/pdf', contentId: 'letter@node-soap', name: 'LETTER.PDF', body: file }],
    },
  );
  assert.strictEqual(sent.status, 200, JSON.stringify(sent));
  assert.strictEqual(sent.receipt.sha256, digest, JSON.stringify(sent));
  assert.strictEqual(Number(sent.receipt.sizeBytes), file.length);
  const id = sent.receipt.messageId;

  const ca = await client('M20001', 'Contract-Admin-Pass-4');
  const box = { mailbox: 'TRACM20001', mailboxPassword: 'Ca1-Mailbox-2026' };
  const [got] = await ca.GetMessageAsync({ ...box, messageId: id }, { forceMTOM: true });
  assert.strictEqual(got.status, 200, JSON.stringify(got));
  assert.strictEqual(got.message.sha256, digest);
  const parts = (ca.lastResponseAttachments && ca.lastResponseAttachments.parts) || [];
  assert.strictEqual(parts.length, 1, 'one binary part: ' + parts.length);
  assert.ok(Buffer.from(parts[0].body).equals(file), 'the same bytes back');
  console.log('node-soap mtom: all checks passed');
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
