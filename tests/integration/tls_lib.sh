# SPDX-License-Identifier: BSD-2-Clause
# tls_lib.sh - test certificates for the TLS tests (sourced after lib.sh):
# tls_pki makes, in $PKI, a CA (ca.pem), a rogue CA (rogue.pem) and leaves
# dpu (dpu.xts.test, 198.18.0.1) and net (net.xts.test, 198.18.0.2) signed
# by the CA, all ECDSA P-256, valid two days.
PKI=$WORK/pki
tls_mk_leaf() { # NAME SAN CA
	local k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2'
	openssl req $k -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "/CN=$1" 2>/dev/null &&
		printf 'subjectAltName=%s\n' "$2" >"$PKI/$1.ext" &&
		openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$3.pem" -CAkey "$PKI/$3.key" \
			-CAcreateserial -out "$PKI/$1.pem" -days 2 -extfile "$PKI/$1.ext" 2>/dev/null
}
tls_pki() {
	local k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2'
	mkdir -p "$PKI"
	{
		openssl req -x509 $k -keyout "$PKI/ca.key" -out "$PKI/ca.pem" -subj /CN=xts-test-ca &&
			openssl req -x509 $k -keyout "$PKI/rogue.key" -out "$PKI/rogue.pem" -subj /CN=rogue-ca &&
			tls_mk_leaf dpu "DNS:dpu.xts.test,IP:198.18.0.1" ca &&
			tls_mk_leaf net "DNS:net.xts.test,IP:198.18.0.2" ca
	} >/dev/null 2>&1 || fail "openssl could not make the test certificates"
}
