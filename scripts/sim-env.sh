# Sourced by the bench scripts: `start_sim ACCOUNT_JSON` starts the release simulator on a
# free loopback port with that account (its pid in $sim, for the caller's trap), points
# sqsnap at it (data in $tmp/data) and defines the helpers below. Needs $tmp.
start_sim() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  target/release/squarecloud-sim --port "$port" --api-key bench-key --data "$1" >"$tmp/url" &
  sim=$!
  for _ in $(seq 50); do [ -s "$tmp/url" ] && break; sleep 0.1; done
  api=$(head -1 "$tmp/url")
  ctl="http://127.0.0.1:$port/_sim"
  export SQUARECLOUD_API_URL=$api SQUARECLOUD_API_KEY=bench-key SQSNAP_DATA_DIR="$tmp/data"
  auth=(-H "Authorization: bench-key")
}
# The URL of an application's newest snapshot.
url_of() { curl -s "${auth[@]}" "$api/apps/$1/snapshots" | python3 -c 'import json,sys; print(json.load(sys.stdin)["response"][0]["url"])'; }
# Bytes the file host has sent so far.
served() { curl -s "${auth[@]}" "$ctl/served" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])'; }
no_faults() { curl -s -X DELETE "${auth[@]}" "$ctl/faults" >/dev/null; }
# Caps every file connection at $1 bytes a second.
cap_each() { curl -s -X POST "${auth[@]}" -d "{\"target\":\"files\",\"kind\":\"bandwidth\",\"bytes_per_sec\":$1,\"times\":null}" "$ctl/faults" >/dev/null; }
# Puts the file host $1 ms of round trip away (handshakes and TCP's slow start modelled).
distant() { curl -s -X POST "${auth[@]}" -d "{\"target\":\"files\",\"kind\":\"distant\",\"rtt_ms\":$1,\"times\":null}" "$ctl/faults" >/dev/null; }
