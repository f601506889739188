package arm

// mlShape is what Azure ML's online-endpoint and deployment bodies carry
// at an api-version, as the recorded responses show: the versions before
// 2022-02-01-preview (2021-03-01-preview, 2021-10-01) predate
// mirrorTraffic, publicNetworkAccess and egressPublicNetworkAccess, and
// privateNetworkConnection exists only in the previews that had it before
// egressPublicNetworkAccess replaced it. Versions are compared as dates,
// which their yyyy-mm-dd form allows.
type mlShape struct {
	network                  bool // mirrorTraffic, publicNetworkAccess, egressPublicNetworkAccess
	privateNetworkConnection bool
}

func mlShapeFor(version string) mlShape {
	return mlShape{
		network:                  version >= "2022-02-01-preview",
		privateNetworkConnection: version == "2021-03-01-preview" || version == "2022-02-01-preview",
	}
}
