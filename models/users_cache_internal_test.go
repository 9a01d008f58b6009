package models

import (
	"fmt"
	"testing"
	"time"
)

func TestCredentialCacheIsBounded(t *testing.T) {
	cc := newCredentialCache(16)
	now := time.Date(2020, 3, 10, 12, 0, 0, 0, time.UTC)
	for i := range 1000 {
		cc.put(credentialKey{hash: fmt.Sprint(i)}, credential{tokenID: int64(i)}, now, cc.generation())
		if n := len(cc.entries); n > 16 {
			t.Fatalf("after %d puts the cache holds %d entries, want at most 16", i+1, n)
		}
	}
	if _, ok := cc.get(credentialKey{hash: "999"}, now); !ok {
		t.Error("the newest entry was evicted")
	}
}

func TestCredentialCacheDropsReadsThatRacedAForget(t *testing.T) {
	cc := newCredentialCache(16)
	now := time.Date(2020, 3, 10, 12, 0, 0, 0, time.UTC)
	key := credentialKey{hash: "h"}
	gen := cc.generation() // a lookup starts reading the token...
	cc.forgetToken(7)      // ...it is revoked and forgotten...
	cc.put(key, credential{tokenID: 7}, now, gen)
	if _, ok := cc.get(key, now); ok {
		t.Error("a read that started before a forget was cached: it may hold the state before the change")
	}
	cc.put(key, credential{tokenID: 7}, now, cc.generation())
	if _, ok := cc.get(key, now); !ok {
		t.Error("a read after the forget was not cached")
	}
	if _, ok := cc.get(key, now.Add(AuthCacheTTL)); ok {
		t.Error("an entry answered after AuthCacheTTL")
	}
}
