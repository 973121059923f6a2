package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
		wantErr        bool
	}{
		{
			name: "the tool's hashes go, the rest stays in order",
			in:   `{"bomFormat":"CycloneDX","serialNumber":"urn:uuid:x","metadata":{"tools":[{"name":"cyclonedx-gomod","version":"v1.10.0","hashes":[{"alg":"SHA-256","content":"aa"}],"externalReferences":[]}],"component":{"name":"m","hashes":[{"alg":"SHA-256","content":"bb"}]}},"components":[{"name":"a&b","version":"v1","hashes":[{"alg":"SHA-256","content":"cc"}]}],"version":1}`,
			want: `{
  "bomFormat": "CycloneDX",
  "serialNumber": "urn:uuid:x",
  "metadata": {
    "tools": [
      {
        "name": "cyclonedx-gomod",
        "version": "v1.10.0",
        "externalReferences": []
      }
    ],
    "component": {
      "name": "m",
      "hashes": [
        {
          "alg": "SHA-256",
          "content": "bb"
        }
      ]
    }
  },
  "components": [
    {
      "name": "a\u0026b",
      "version": "v1",
      "hashes": [
        {
          "alg": "SHA-256",
          "content": "cc"
        }
      ]
    }
  ],
  "version": 1
}
`,
		},
		{name: "not JSON", in: `{"a":`, wantErr: true},
		{name: "two documents", in: `{} {}`, wantErr: true},
		{name: "not an object", in: `[1]`, wantErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.cdx.json")
			if err := os.WriteFile(path, []byte(c.in), 0o644); err != nil {
				t.Fatal(err)
			}
			err := normalize(path)
			if (err != nil) != c.wantErr {
				t.Fatalf("normalize: %v, want error %v", err, c.wantErr)
			}
			if c.wantErr {
				return
			}
			got, _ := os.ReadFile(path)
			if string(got) != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}
