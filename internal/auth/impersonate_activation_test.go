package auth

import (
	"errors"
	"strings"
	"testing"
)

// Google answers a disabled IAM Credentials API with a pretty-printed JSON
// body whose message names the activation link: the refusal says Google's
// words (not the JSON, not on many lines) and the link whole, never cut.
func TestAnImpersonationRefusalKeepsTheActivationLink(t *testing.T) {
	const link = "https://console.developers.google.com/apis/api/iamcredentials.googleapis.com/overview?project=123456789012"
	body := `{
  "error": {
    "code": 403,
    "message": "IAM Service Account Credentials API has not been used in project 123456789012 before or it is disabled. Enable it by visiting ` + link + ` then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.",
    "status": "PERMISSION_DENIED",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "SERVICE_DISABLED",
        "domain": "googleapis.com",
        "metadata": {"consumer": "projects/123456789012", "service": "iamcredentials.googleapis.com", "activationUrl": "` + link + `"}
      }
    ]
  }
}`
	te := classifyTokenError(errors.New("impersonate: status code 403: "+body), observation{})
	if te == nil || !te.fatal {
		t.Fatalf("got %+v, want a fatal refusal", te)
	}
	for _, want := range []string{"iamcredentials.googleapis.com) is not enabled", link + " ", "has not been used in project"} {
		if !strings.Contains(te.msg+" ", want) {
			t.Errorf("%q\ndoes not say %q", te.msg, want)
		}
	}
	for _, not := range []string{"\n", `"code"`, "{"} {
		if strings.Contains(te.msg, not) {
			t.Errorf("%q\nsays %q", te.msg, not)
		}
	}
}
