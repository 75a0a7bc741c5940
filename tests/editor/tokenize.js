// Tokenizes files with the editor grammar (editors/vscode/syntaxes/xmpp.tmLanguage.json) through
// vscode-textmate and vscode-oniguruma, the libraries VS Code itself highlights with, and prints, per
// file, per line, each token's text and scopes (the grammar's own scope left out), as JSON. For
// tests/editor.rs: `node tests/editor/tokenize.js FILE...` with NODE_PATH at those packages.
const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const grammarPath = path.join(__dirname, '../../editors/vscode/syntaxes/xmpp.tmLanguage.json');

async function main(files) {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    // Only ours: the embedded YAML and Lua grammars are VS Code's, absent here, and then unscoped.
    loadGrammar: async (scope) =>
      scope === 'source.xmpp' ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath) : null,
  });
  const grammar = await registry.loadGrammar('source.xmpp');
  const out = {};
  for (const file of files) {
    let state = vsctm.INITIAL;
    out[file] = fs.readFileSync(file, 'utf8').split(/\r\n|\r|\n/).map((line) => {
      const r = grammar.tokenizeLine(line, state);
      state = r.ruleStack;
      return r.tokens.map((t) => [line.slice(t.startIndex, t.endIndex), t.scopes.slice(1)]);
    });
  }
  process.stdout.write(JSON.stringify(out));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exit(1);
});
