package rail

import (
	"crypto/hmac"
	"crypto/sha256"
	"math/big"
	"strings"
)

// Address formats. Sandbox addresses are well-formed for their network (right prefix,
// alphabet, length and checksum) so wallets and validators treat them like real ones, but
// the key behind them is an HMAC output, not a public key: nothing sent there on a real
// chain could ever be spent. That is deliberate for a sandbox.
const (
	FormatTRON       = "tron"        // base58check, version 0x41: T…, 34 characters
	FormatBech32Test = "bech32-test" // P2WPKH on Bitcoin testnet: tb1q…
	FormatBech32Main = "bech32"      // P2WPKH on Bitcoin mainnet: bc1q…
)

// addressFor derives owner's address for asset: deterministic, so DepositAddress needs no
// coordination between nodes, and keyed, so nobody can compute another user's address from
// their user id.
func addressFor(key []byte, format, owner, asset string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("okpay sandbox deposit address v1\x00" + asset + "\x00" + owner))
	sum := m.Sum(nil)
	payload := sum[:20]
	switch format {
	case FormatTRON:
		return base58Check(append([]byte{0x41}, payload...))
	case FormatBech32Main:
		return segwitV0("bc", payload)
	default:
		return segwitV0("tb", payload)
	}
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func base58Check(payload []byte) string {
	h1 := sha256.Sum256(payload)
	h2 := sha256.Sum256(h1[:])
	full := append(append([]byte{}, payload...), h2[:4]...)
	n := new(big.Int).SetBytes(full)
	base, mod := big.NewInt(58), new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, base, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for _, c := range full {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// segwitV0 encodes a version-0 witness program as BIP 173 bech32.
func segwitV0(hrp string, program []byte) string {
	data := []byte{0}
	acc, bits := 0, 0
	for _, b := range program {
		acc = acc<<8 | int(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			data = append(data, byte(acc>>bits&31))
		}
	}
	if bits > 0 {
		data = append(data, byte(acc<<(5-bits)&31))
	}
	values := append(hrpExpand(hrp), data...)
	values = append(values, 0, 0, 0, 0, 0, 0)
	pm := bech32Polymod(values) ^ 1
	var b strings.Builder
	b.WriteString(hrp)
	b.WriteByte('1')
	for _, d := range data {
		b.WriteByte(bech32Charset[d])
	}
	for i := 0; i < 6; i++ {
		b.WriteByte(bech32Charset[(pm>>(5*(5-i)))&31])
	}
	return b.String()
}

func hrpExpand(hrp string) []byte {
	out := make([]byte, 0, 2*len(hrp)+1)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]>>5)
	}
	out = append(out, 0)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]&31)
	}
	return out
}

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := 0; i < 5; i++ {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}
