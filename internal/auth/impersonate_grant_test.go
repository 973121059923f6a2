package auth

import (
	"errors"
	"strings"
	"testing"
)

// Keyless delegation's second step, the token exchange at Google's OAuth
// endpoint, refuses as the key flow's does (an OAuth error code, not the
// IAM API's JSON): a subject that is not a user, or delegation not granted
// to the impersonated service account, gets the same hint as with a key.
func TestAnImpersonatedExchangeRefusalSaysWhichFix(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`{"error":"invalid_grant","error_description":"Invalid email or User ID"}`, "auth.subject is not a user"},
		{`{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}`,
			"domain-wide delegation is not granted"},
	} {
		for _, seen := range []observation{{}, {status: 400}} {
			te := classifyTokenError(errors.New("impersonate: status code 400: "+tt.body), seen)
			if te == nil || !te.fatal || !strings.Contains(te.msg, tt.want) {
				t.Errorf("%s (observed %d)\n→ %+v; want fatal, saying %q", tt.body, seen.status, te, tt.want)
			}
		}
	}
}
