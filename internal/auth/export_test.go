package auth

import "time"

// SetExchangeTimeout shortens auth login's exchange deadline for a test;
// the function it returns restores it.
func SetExchangeTimeout(d time.Duration) func() {
	was := exchangeTimeout
	exchangeTimeout = d
	return func() { exchangeTimeout = was }
}
