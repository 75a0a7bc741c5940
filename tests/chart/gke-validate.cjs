// Validates GKE objects (JSON array on stdin) against the schemas of GKE's CRDs, as the npm package
// @kubernetes-models/gke generates them (tests/setup installs it; NODE_PATH finds it). Prints one line
// per object; exits 1 when any is invalid or of a kind it does not know.
"use strict";
const models = {
  "cloud.google.com/v1 BackendConfig": ["@kubernetes-models/gke/cloud.google.com/v1/BackendConfig", "BackendConfig"],
  "networking.gke.io/v1 GCPBackendPolicy": ["@kubernetes-models/gke/networking.gke.io/v1/GCPBackendPolicy", "GCPBackendPolicy"],
  "networking.gke.io/v1 HealthCheckPolicy": ["@kubernetes-models/gke/networking.gke.io/v1/HealthCheckPolicy", "HealthCheckPolicy"],
};
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  let failed = false;
  for (const object of JSON.parse(input)) {
    const what = `${object.apiVersion} ${object.kind}`;
    const model = models[what];
    try {
      if (!model) throw new Error("no schema for this kind");
      const Model = require(model[0])[model[1]];
      new Model(object).validate();
      console.log(`valid: ${what} ${object.metadata.name}`);
    } catch (e) {
      failed = true;
      console.log(`invalid: ${what} ${object.metadata && object.metadata.name}: ${e.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
});
