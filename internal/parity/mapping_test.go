package parity

import "testing"

func TestMapperPath(t *testing.T) {
	m := Mapper{Subscription: "sub", ResourceGroup: "rg", Workspace: "ws", APIVersion: "2022-02-01-preview"}
	tests := []struct{ in, want string }{
		{"https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/000000000000000/providers/Microsoft.MachineLearningServices/workspaces/000000000000000/onlineEndpoints/mire2etest?api-version=0000-00-00",
			"/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/onlineEndpoints/mire2etest?api-version=2022-02-01-preview"},
		{"https://Sanitized.azure.com/subscriptions/0/resourcegroups/00000/providers/Microsoft.CognitiveServices/accounts/cog000002/listKeys?api-version=2023-05-01",
			"/subscriptions/sub/resourcegroups/rg/providers/Microsoft.CognitiveServices/accounts/cog000002/listKeys?api-version=2023-05-01"},
		{"https://management.azure.com/subscriptions/0/providers/Microsoft.CognitiveServices/locations/X/operationResults/ID?api-version=2017-04-18&t=1&c=abc&s=sig&h=h",
			"/subscriptions/sub/providers/Microsoft.CognitiveServices/locations/X/operationResults/ID?api-version=2017-04-18"},
		{"/qnamaker/v4.0/endpointkeys/SecondaryKey", "/qnamaker/v4.0/endpointkeys/SecondaryKey"},
	}
	for _, tt := range tests {
		got, err := m.Path(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Path(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := (Mapper{}).Path("/x?api-version=0000-00-00"); err == nil {
		t.Error("a sanitised api-version without a replacement mapped without error")
	}
}
