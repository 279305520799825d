// A Kafka fake for benchmarks: franz-go's kfake (github.com/twmb/franz-go/pkg/kfake), one
// broker on a free loopback port, with payorch's default topics (4 partitions each). It
// prints its bootstrap address and runs until SIGINT/SIGTERM. Unlike the embedded broker
// (librdkafka's mock cluster), its fetches find a batch by offset, return several batches
// and wake on new data, so the cost of a fetch does not grow with the log: what
// bench/api_load.sh BROKER=kfake measures over time is payorch's own cost
// (docs/performance.md). A benchmark tool only: not used by tests or the demo.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	topics := []string{"payorch.commands", "payorch.events", "payorch.contracts",
		"payorch.deadletter", "payorch.invoices.commands", "payorch.invoices.events",
		"payorch.orders.commands", "payorch.orders.events"}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.SeedTopics(4, topics...),
		kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation())
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
	fmt.Println(strings.Join(c.ListenAddrs(), ","))
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	c.Close()
}
