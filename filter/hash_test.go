package filter

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestHashIdentifiesTheText: a policy's Hash is the first 8 bytes of the
// SHA-256 of its text, as capture headers have always recorded it; the
// same text gives the same hash, another text another.
func TestHashIdentifiesTheText(t *testing.T) {
	const text = "seed: 4\nrules:\n  - {name: r, loss: 5%}\n"
	a, b := mustParse(t, text), mustParse(t, text)
	other := mustParse(t, "seed: 5\nrules:\n  - {name: r, loss: 5%}\n")
	sum := sha256.Sum256([]byte(text))
	if want := hex.EncodeToString(sum[:8]); a.Hash() != want {
		t.Errorf("got Hash() = %s, want %s", a.Hash(), want)
	}
	if a.Hash() != b.Hash() {
		t.Errorf("got hashes %s and %s for the same text, want equal", a.Hash(), b.Hash())
	}
	if a.Hash() == other.Hash() {
		t.Errorf("got hash %s for two different texts, want different", a.Hash())
	}
}
