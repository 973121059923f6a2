package config

import "testing"

// A setting the auth mode does not use was ignored without a word: adc
// with credentials_file: key.json acted as whoever the default credentials
// are (a gcloud user, the VM's account), not as that key; a subject under
// oauth-user, or an impersonate_service_account beside a key, changed
// nothing. Each is refused at its line, naming the mode that uses it.
func TestAuthSettingsTheModeDoesNotUse(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"a key under adc", "sources: [{path: a.csv}]\nauth:\n  mode: adc\n  credentials_file: key.json\n",
			`c.yaml:4: auth.credentials_file is not used by auth.mode adc (Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud, the metadata server)`},
		{"a token file under service-account", "sources: [{path: a.csv}]\nauth:\n  mode: service-account\n  credentials_file: key.json\n  subject: a@example.com\n  token_file: t.json\n",
			`c.yaml:6: auth.token_file is not used by auth.mode service-account`},
		{"impersonation beside a key", "sources: [{path: a.csv}]\nauth:\n  mode: service-account\n  credentials_file: key.json\n  impersonate_service_account: sa@p.iam.gserviceaccount.com\n",
			`c.yaml:5: auth.impersonate_service_account is not used by auth.mode service-account`},
		{"a subject under oauth-user", "sources: [{path: a.csv}]\nauth:\n  mode: oauth-user\n  credentials_file: c.json\n  token_file: t.json\n  subject: a@example.com\n",
			`c.yaml:6: auth.subject is not used by auth.mode oauth-user (the run acts as the user of syncer auth login)`},
		// Mode none (an emulator) sends no credentials: a key left in the
		// config is not used either, and says so like the others.
		{"a key under none", "sources: [{path: a.csv}]\nauth:\n  mode: none\n  credentials_file: key.json\n",
			`c.yaml:4: auth.credentials_file is not used by auth.mode none`},
		{"a token file under none", "sources: [{path: a.csv}]\nauth:\n  mode: none\n  token_file: t.json\n",
			`c.yaml:4: auth.token_file is not used by auth.mode none`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			sameProblems(t, problems(t, err), []string{tt.want})
		})
	}
	for _, ok := range []string{
		"auth:\n  mode: adc\n  subject: a@example.com\n  impersonate_service_account: sa@p.iam.gserviceaccount.com\n",
		"auth:\n  mode: service-account\n  credentials_file: key.json\n  subject: a@example.com\n",
		"auth:\n  mode: app\n  credentials_file: key.json\n",
		"auth:\n  mode: oauth-user\n  credentials_file: c.json\n  token_file: t.json\n",
		"auth:\n  mode: none\n  subject: a@example.com\n",
	} {
		if _, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\n"+ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// auth.subject is the user the run acts as, an address (the token's sub):
// "admin" or "admin@example.com." passed validate and failed the run at
// its first token request (exit 1), or never matched the user's own
// membership in the emulator.
func TestSubjectIsAnAddress(t *testing.T) {
	for _, subject := range []string{"admin", "admin@example.com.", "admin@@example.com", "users/123"} {
		_, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\nauth:\n  mode: service-account\n  credentials_file: key.json\n  subject: \""+subject+"\"\n"))
		sameProblems(t, problems(t, err), []string{`c.yaml:5: auth.subject "` + subject + `" is not a user's address`})
	}
}
