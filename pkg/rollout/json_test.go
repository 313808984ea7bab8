package rollout

import "encoding/json"

func jsonOf(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
