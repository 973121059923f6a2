package chatapi

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/api/googleapi"
)

// Google's 403 for a token without the scope a call needs says only
// "Request had insufficient authentication scopes." With auth.mode
// oauth-user that is a consent given before the config asked for more
// (api.use_admin_access, a Directory rule): the error says what to do. It
// stays a refusal of that call (spaces.get's is only a warning).
func TestAnInsufficientScopeSaysWhatToDo(t *testing.T) {
	for name, body := range map[string]string{
		"Chat":      `{"error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_TOKEN_SCOPE_INSUFFICIENT","domain":"googleapis.com","metadata":{"service":"chat.googleapis.com","method":"google.chat.v1.ChatService.ListMemberships"}}]}}`,
		"Directory": `{"error":{"code":403,"message":"Request had insufficient authentication scopes.","errors":[{"message":"Insufficient Permission","domain":"global","reason":"insufficientPermissions"}],"status":"PERMISSION_DENIED"}}`,
	} {
		err := classify(&googleapi.Error{Code: 403, Body: body})
		if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "auth login again") || !strings.Contains(err.Error(), "scope") {
			t.Errorf("%s: %v; want a refusal of the call that names the scope and auth login", name, err)
		}
	}
}
