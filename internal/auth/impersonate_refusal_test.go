package auth

import (
	"errors"
	"strings"
	"testing"
)

// Keyless delegation's token comes from the IAM Service Account
// Credentials API: a 403 because that API is not enabled in the runtime's
// project says so, not that a role is missing; a 403 that is a missing
// role still says that.
func TestAnImpersonationRefusalSaysWhichFix(t *testing.T) {
	for _, tt := range []struct{ body, want, not string }{
		{`{"error":{"code":403,"message":"IAM Service Account Credentials API has not been used in project 123456789012 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/iamcredentials.googleapis.com/overview?project=123456789012 then retry.","status":"PERMISSION_DENIED"}}`,
			"iamcredentials.googleapis.com) is not enabled", "serviceAccountTokenCreator"},
		{`{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).","status":"PERMISSION_DENIED"}}`,
			"roles/iam.serviceAccountTokenCreator", "not enabled"},
	} {
		te := classifyTokenError(errors.New("impersonate: status code 403: "+tt.body), observation{})
		if te == nil || !te.fatal || !strings.Contains(te.msg, tt.want) || strings.Contains(te.msg, tt.not) {
			t.Errorf("%s\n→ %+v; want fatal, saying %q", tt.body, te, tt.want)
		}
	}
}
