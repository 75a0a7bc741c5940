# shellcheck shell=bash
# The node's PKI (part of `node start`): a throwaway CA, a certificate per component and their
# kubeconfigs, all under $RUN. Sourced by tests/cluster/node.

gen_certs() { # a throwaway CA and one client certificate per component, in $RUN/pki
  local d=$RUN/pki
  mkdir -p "$d"
  (
    cd "$d" || exit
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 7 -subj "/CN=helm-xmpp-kube-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    sign() { # name subject extensions
      openssl req "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      printf '%s\n' "$3" > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
        -out "$1.crt" -extfile "$1.ext" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    client="extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
    sign apiserver "/CN=kube-apiserver" "subjectAltName=IP:127.0.0.1,IP:$SERVICE_IP,IP:$NODE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment"
    sign kubelet-serving "/CN=$NODE_NAME" "subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment"
    sign admin "/O=system:masters/CN=helm-xmpp-admin" "$client"
    sign kcm "/CN=system:kube-controller-manager" "$client"
    sign scheduler "/CN=system:kube-scheduler" "$client"
    sign kube-proxy "/CN=system:kube-proxy" "$client"
    sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "$client"
    sign coredns "/CN=system:coredns" "$client"
    sign provisioner "/CN=system:helm-xmpp-provisioner" "$client"
    sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

write_kubeconfig() { # NAME USER (cert and key $RUN/pki/NAME.{crt,key}) -> $RUN/NAME.kubeconfig
  local f=$RUN/$1.kubeconfig
  cat > "$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: helm-xmpp
  cluster:
    server: https://127.0.0.1:$APORT
    certificate-authority-data: $(base64 -w0 < "$RUN/pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 < "$RUN/pki/$1.crt")
    client-key-data: $(base64 -w0 < "$RUN/pki/$1.key")
contexts:
- name: helm-xmpp
  context: {cluster: helm-xmpp, user: $2, namespace: default}
current-context: helm-xmpp
EOF
  chmod 600 "$f"
}
