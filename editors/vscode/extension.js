// The VS Code extension: highlighting comes from the grammar (package.json); this starts the language
// server, `helm-xmpp lsp`, for `.xmpp` files (the binary from the `helmXmpp.path` setting).
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate() {
  const command = vscode.workspace.getConfiguration('helmXmpp').get('path') || 'helm-xmpp';
  client = new LanguageClient(
    'helm-xmpp',
    'helm-xmpp',
    { command, args: ['lsp'] },
    { documentSelector: [{ scheme: 'file', language: 'xmpp' }] },
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
