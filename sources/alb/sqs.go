package alb

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSSource finds new log objects in S3 event notifications ("Amazon S3
// Event Notifications": s3:ObjectCreated:* sent to an SQS queue, directly
// or through SNS) instead of listing the bucket: after the first listing,
// which reads the history the windows need, a cycle makes no LIST at all.
// Objects are read from S3 as usual.
//
// A message is deleted only once every object it names is in the ledger
// (asked at the start of the next List): a crash before that has it
// delivered again, and the ledger counts its objects once. A message naming an object that cannot be read is left
// in the queue: it comes back after the visibility timeout and the object
// is tried again (a redrive policy moves it to a dead-letter queue after
// the queue's maxReceiveCount).
type SQSSource struct {
	*S3Source
	client   SQSAPI
	queueURL string
	log      *slog.Logger
	// Visibility is how long a received message stays hidden before it is
	// delivered again (default 5 minutes): long enough for a cycle to read
	// its objects and delete it.
	Visibility time.Duration
	// MaxPerCycle bounds the messages one List takes (default 10,000); the
	// rest wait for the next cycle.
	MaxPerCycle int
	// CallTimeout bounds each SQS call (default 30 s).
	CallTimeout time.Duration

	mu sync.Mutex
	// listed is whether the bucket was listed since the source started or
	// was reset (a spec reload may add load balancers with a history).
	listed bool
	// messages are those received and not deleted yet, with the objects
	// they name.
	messages []sqsMessage
	// ledgered says whether an object's counts are in the ledger (the
	// ingester's store: UseLedger).
	ledgered func(key string) bool

	received, deleted, ignored atomic.Int64
}

type sqsMessage struct {
	handle string
	keys   []string
}

// SQSAPI is the part of the SQS client SQSSource uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// NewSQSSource reads the objects of s3 that the queue's notifications name.
// With client nil, it makes one from the default AWS configuration (the
// endpoint can be set with AWS_ENDPOINT_URL_SQS).
func NewSQSSource(ctx context.Context, s3src *S3Source, queueURL, region string, client SQSAPI, log *slog.Logger) (*SQSSource, error) {
	if _, err := url.ParseRequestURI(queueURL); err != nil {
		return nil, fmt.Errorf("sqs queue URL %q: %w", queueURL, err)
	}
	if client == nil {
		var opts []func(*config.LoadOptions) error
		if region == "" {
			region = s3src.Region()
		}
		if region != "" {
			opts = append(opts, config.WithRegion(region))
		}
		awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("sqs: aws config: %w", err)
		}
		client = sqs.NewFromConfig(awsCfg)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SQSSource{S3Source: s3src, client: client, queueURL: queueURL, log: log}, nil
}

func (s *SQSSource) String() string {
	return s.S3Source.String() + " (new objects from " + s.queueURL + ")"
}

// Reset has the next List list the bucket again (besides the queue).
func (s *SQSSource) Reset() {
	s.S3Source.Reset()
	s.mu.Lock()
	s.listed = false
	s.mu.Unlock()
}

// Stats says how many messages were received, deleted, and ignored (test
// events, other buckets, objects that are not access logs).
func (s *SQSSource) Stats() (received, deleted, ignored int64) {
	return s.received.Load(), s.deleted.Load(), s.ignored.Load()
}

// List lists the bucket the first time (the history), then takes the
// queue's messages: fn sees each object they name once per List, oldest
// first.
func (s *SQSSource) List(ctx context.Context, from, to time.Time, fn func(Object) error) error {
	if err := s.flush(ctx); err != nil {
		s.log.Warn("sqs: deleting handled messages failed; they will be delivered again and skipped", "err", err)
	}
	s.mu.Lock()
	listed := s.listed
	s.mu.Unlock()
	if !listed {
		if err := s.S3Source.List(ctx, from, to, fn); err != nil {
			return err
		}
		s.mu.Lock()
		s.listed = true
		s.mu.Unlock()
	}
	objs, err := s.receive(ctx, from, to)
	if err != nil {
		return err
	}
	slices.SortFunc(objs, func(a, b Object) int { return a.Info.End.Compare(b.Info.End) })
	for _, o := range objs {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// receive takes messages until the queue has none to give (or
// MaxPerCycle), and returns the objects they name, each once.
func (s *SQSSource) receive(ctx context.Context, from, to time.Time) ([]Object, error) {
	visibility := cmp.Or(s.Visibility, 5*time.Minute)
	limit := cmp.Or(s.MaxPerCycle, 10_000)
	seen := map[string]bool{}
	var objs []Object
	for n := 0; n < limit; {
		cctx, cancel := context.WithTimeout(ctx, cmp.Or(s.CallTimeout, 30*time.Second))
		out, err := s.client.ReceiveMessage(cctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(s.queueURL),
			MaxNumberOfMessages: int32(min(10, limit-n)),
			VisibilityTimeout:   int32(visibility / time.Second),
			WaitTimeSeconds:     1, // a short long-poll: asks every server, unlike 0
		})
		cancel()
		if err != nil {
			return objs, fmt.Errorf("sqs receive %s: %w", s.queueURL, err)
		}
		if len(out.Messages) == 0 {
			return objs, nil
		}
		n += len(out.Messages)
		s.received.Add(int64(len(out.Messages)))
		var drop []string // messages with nothing to count: deleted now
		for _, m := range out.Messages {
			keys, err := s3EventKeys(aws.ToString(m.Body), s.bucket)
			if err != nil {
				s.log.Warn("sqs: a message that is not an S3 event notification is left in the queue", "message_id", aws.ToString(m.MessageId), "err", err)
				continue
			}
			msg := sqsMessage{handle: aws.ToString(m.ReceiptHandle)}
			for _, k := range keys {
				o, ok := s.object(k, from, to)
				if !ok {
					continue
				}
				msg.keys = append(msg.keys, o.Key)
				if !seen[o.Key] {
					seen[o.Key] = true
					objs = append(objs, o)
				}
			}
			if len(msg.keys) == 0 {
				s.ignored.Add(1)
				drop = append(drop, msg.handle)
				continue
			}
			s.mu.Lock()
			s.messages = append(s.messages, msg)
			s.mu.Unlock()
		}
		if err := s.delete(ctx, drop); err != nil {
			s.log.Warn("sqs: deleting messages failed; they will be delivered again", "err", err)
		}
	}
	return objs, nil
}

// object is the access log object an event names, if kakeibo reads it:
// under the source's prefix, in AWS's layout, in the range, of a load
// balancer this source reads.
func (s *SQSSource) object(k s3EventObject, from, to time.Time) (Object, bool) {
	if !strings.HasPrefix(k.Key, s.prefix) {
		return Object{}, false
	}
	o, ok, _ := accessLogObject(k.Key, k.Size, k.ETag, from, to)
	if !ok || (len(s.LoadBalancers) > 0 && o.Info.LoadBalancer != "" && !slices.Contains(s.LoadBalancers, o.Info.LoadBalancer)) {
		return Object{}, false
	}
	return o, true
}

// UseLedger gives the source the ingester's ledger: a message is deleted
// once every object it names is in it.
func (s *SQSSource) UseLedger(ledgered func(key string) bool) {
	s.mu.Lock()
	s.ledgered = ledgered
	s.mu.Unlock()
}

// flush deletes the messages whose objects are all in the ledger. A
// message whose object could not be read stays: it comes back.
func (s *SQSSource) flush(ctx context.Context) error {
	s.mu.Lock()
	msgs, ledgered := s.messages, s.ledgered
	// Forget every message received: those not deleted are delivered
	// again after their visibility timeout, with new handles.
	s.messages = nil
	s.mu.Unlock()
	if ledgered == nil {
		return nil
	}
	var handles []string
	for _, m := range msgs {
		if !slices.ContainsFunc(m.keys, func(k string) bool { return !ledgered(k) }) {
			handles = append(handles, m.handle)
		}
	}
	return s.delete(ctx, handles)
}

// delete deletes messages, ten at a time (the batch limit).
func (s *SQSSource) delete(ctx context.Context, handles []string) error {
	for len(handles) > 0 {
		n := min(10, len(handles))
		var entries []sqstypes.DeleteMessageBatchRequestEntry
		for i, h := range handles[:n] {
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: aws.String(h)})
		}
		handles = handles[n:]
		cctx, cancel := context.WithTimeout(ctx, cmp.Or(s.CallTimeout, 30*time.Second))
		out, err := s.client.DeleteMessageBatch(cctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(s.queueURL), Entries: entries})
		cancel()
		if err != nil {
			return fmt.Errorf("sqs delete: %w", err)
		}
		s.deleted.Add(int64(len(out.Successful)))
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return fmt.Errorf("sqs delete: %d of %d failed (%s: %s)", len(out.Failed), len(entries), aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	return nil
}

type s3EventObject struct {
	Key  string
	Size int64
	ETag string
}

// s3EventKeys reads the objects an S3 event notification names, as AWS
// documents it ("Event message structure"): Records[].s3.object with a
// URL-encoded key, for ObjectCreated events of bucket. An SNS envelope
// (Type Notification, the event in Message) is opened first. The test
// event S3 sends when notifications are set up names none.
func s3EventKeys(body, bucket string) ([]s3EventObject, error) {
	var env struct {
		Type    string `json:"Type"`
		Message string `json:"Message"`
		Event   string `json:"Event"`
		Records []struct {
			EventSource string `json:"eventSource"`
			EventName   string `json:"eventName"`
			S3          struct {
				Bucket struct {
					Name string `json:"name"`
				} `json:"bucket"`
				Object struct {
					Key  string `json:"key"`
					Size int64  `json:"size"`
					ETag string `json:"eTag"`
				} `json:"object"`
			} `json:"s3"`
		} `json:"Records"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if env.Type == "Notification" && env.Message != "" {
		return s3EventKeys(env.Message, bucket)
	}
	if env.Event == "s3:TestEvent" {
		return nil, nil
	}
	if env.Records == nil {
		return nil, fmt.Errorf("no Records")
	}
	var out []s3EventObject
	for _, r := range env.Records {
		if r.EventSource != "aws:s3" || !strings.HasPrefix(r.EventName, "ObjectCreated:") || r.S3.Bucket.Name != bucket {
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return nil, fmt.Errorf("object key %q: %w", r.S3.Object.Key, err)
		}
		out = append(out, s3EventObject{Key: key, Size: r.S3.Object.Size, ETag: r.S3.Object.ETag})
	}
	return out, nil
}
