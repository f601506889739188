// Command upstream is the model server stand-in for bench/gateway.sh: it
// answers every request with a small JSON body, as fast as net/http can.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18000", "address")
	flag.Parse()
	body := []byte(`{"predictions":[0.42]}`)
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})))
}
