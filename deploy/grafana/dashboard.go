package grafana

import _ "embed"

// Dashboard is the Grafana dashboard (stargate.json), ready to import or to
// provision.
//
//go:embed stargate.json
var Dashboard []byte
