package rekey

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"
)

// Names of the Cognitive Services provider.
const (
	NamespaceCS = "Microsoft.CognitiveServices"
	TypeAccount = NamespaceCS + "/accounts"
	// KindQnAMaker is the account kind whose keys guard a QnA Maker API.
	KindQnAMaker = "QnAMaker"
)

// AccountID names a Cognitive Services account.
type AccountID struct {
	Subscription  string
	ResourceGroup string
	Name          string
}

// String returns the ARM resource id.
func (id AccountID) String() string {
	return subscriptionsKeyword + id.Subscription + "/resourceGroups/" + id.ResourceGroup + "/providers/" + TypeAccount + "/" + id.Name
}

// Key returns the case-folded ARM id.
func (id AccountID) Key() string { return strings.ToLower(id.String()) }

// SubscriptionKeys is the owner string of the account's two subscription
// keys (key1, key2: the Ocp-Apim-Subscription-Key values).
func (id AccountID) SubscriptionKeys() string { return id.Key() }

// EndpointKeys is the owner string of the account's two QnA endpoint keys
// (primaryEndpointKey, secondaryEndpointKey: the runtime's EndpointKey values).
func (id AccountID) EndpointKeys() string { return id.Key() + "/qnaendpointkeys" }

var accountName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$`)

// Validate applies the published account-name rule (2 to 64 characters:
// a letter or digit, then letters, digits, '_', '.' or '-').
func (id AccountID) Validate() error {
	if err := ValidateSubscription(id.Subscription); err != nil {
		return err
	}
	if err := ValidateResourceGroup(id.ResourceGroup); err != nil {
		return err
	}
	if !accountName.MatchString(id.Name) {
		return Errorf(Invalid, "The account name '%s' is invalid. It must be 2 to 64 characters: a letter or digit, then letters, digits, '_', '.' or '-'.", clip(id.Name))
	}
	return nil
}

// Account is a Cognitive Services account. A QnAMaker account has, besides
// its subscription keys, two QnA endpoint keys and endpoint settings.
type Account struct {
	ID                  AccountID
	UID                 string // internalId
	ETag                string // changes with every write
	Location            string
	Kind                string
	SKU                 *SKU
	Tags                map[string]string // or nil
	Identity            *Identity         // or nil
	CustomSubDomainName string
	QnARuntimeEndpoint  string         // apiProperties.qnaRuntimeEndpoint: where the gateway sends generateAnswer
	APIProperties       map[string]any // other allow-listed apiProperties (api/arm); or nil
	PublicNetworkAccess string
	// ProvisioningState is Creating until the create operation completes;
	// "" (records written before creation was asynchronous) means Succeeded.
	ProvisioningState ProvisioningState
	ActiveLearning    bool // QnA endpointSettings.activeLearning.enable
	SystemData        SystemData
}

// State returns the account's provisioning state.
func (a *Account) State() ProvisioningState {
	if a.ProvisioningState == "" {
		return Succeeded
	}
	return a.ProvisioningState
}

// IsQnAMaker reports whether the account serves the QnA Maker API.
func (a *Account) IsQnAMaker() bool { return strings.EqualFold(a.Kind, KindQnAMaker) }

// NewSubscriptionKey returns a fresh account key in Azure's format: 32
// lower-case hexadecimal characters (128 bits from crypto/rand).
func NewSubscriptionKey() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("rekey: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// NewEndpointKey returns a fresh QnA endpoint key: a random GUID, as QnA
// Maker's endpoint keys are.
func NewEndpointKey() string { return NewGUID() }

// ParseAccountID parses the ARM id of a Cognitive Services account.
func ParseAccountID(s string) (AccountID, error) {
	r, err := ParseResourceID(s)
	if err != nil {
		return AccountID{}, err
	}
	if !strings.EqualFold(r.Namespace, NamespaceCS) || len(r.Types) != 1 || r.ResourceGroup == "" || !strings.EqualFold(r.Types[0], "accounts") {
		return AccountID{}, Errorf(Invalid, "'%s' is not the id of a Cognitive Services account.", clip(s))
	}
	return AccountID{Subscription: r.Subscription, ResourceGroup: r.ResourceGroup, Name: r.Names[0]}, nil
}

// ValidateQnARuntimeEndpoint checks apiProperties.qnaRuntimeEndpoint as
// ValidateUpstream checks rekey.upstream: an absolute http(s) URL with a
// host and without credentials, query or fragment. The URL is stored and
// returned by GET and list, so a password in it would be kept in
// plaintext and shown to every reader. The message does not repeat the
// value, which may hold that password.
func ValidateQnARuntimeEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Errorf(Invalid, "properties.apiProperties.qnaRuntimeEndpoint must be an absolute http(s) URL of the QnA runtime without credentials, query or fragment, e.g. https://my-qna.azurewebsites.net. It is stored and returned as given, so it must not carry a secret.")
	}
	return nil
}

// WithoutUserinfo returns the URL s without its user and password, for
// values stored before ValidateQnARuntimeEndpoint refused them.
func WithoutUserinfo(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
