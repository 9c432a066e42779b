package platform

import (
	"strconv"
	"testing"
	"time"
)

func TestEchoes(t *testing.T) {
	e := NewEchoes(time.Minute)
	e.Expect("delete", "g", "m1")
	if e.Take("delete", "g2", "m1") || e.Take("ban", "g", "m1") {
		t.Fatal("an echo matched another community or kind")
	}
	if !e.Take("delete", "g", "m1") || e.Take("delete", "g", "m1") {
		t.Fatal("an expected echo must match exactly once")
	}
	e.Expect("ban", "g", "u")
	e.Forget("ban", "g", "u")
	if e.Take("ban", "g", "u") {
		t.Fatal("a forgotten echo matched")
	}
	expired := NewEchoes(-time.Second)
	expired.Expect("kick", "g", "u")
	if expired.Take("kick", "g", "u") {
		t.Fatal("an expired echo matched")
	}
}

func TestEchoesStayBounded(t *testing.T) {
	e := NewEchoes(-time.Second) // everything expires at once
	for i := range 3 * maxEchoes {
		e.Expect("delete", "g", strconv.Itoa(i))
	}
	if n := len(e.want); n > maxEchoes {
		t.Fatalf("%d expectations kept", n)
	}
}
