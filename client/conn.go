package client

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Client is a connection to a node's gRPC API.
type Client struct {
	tabellav1.TabellaServiceClient
	conn *grpc.ClientConn
}

// Dial connects to a node's gRPC API. The connection is lazy: errors
// surface on the first call.
func Dial(addr string) (*Client, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return &Client{TabellaServiceClient: tabellav1.NewTabellaServiceClient(conn), conn: conn}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// ChainID asks the node for its chain id.
func (c *Client) ChainID(ctx context.Context) (string, error) {
	info, err := c.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
	if err != nil {
		return "", err
	}
	return info.ChainId, nil
}

// Broadcast submits a signed tx; with wait it returns once committed.
func (c *Client) Broadcast(ctx context.Context, tx []byte, wait bool) (*tabellav1.BroadcastTxResponse, error) {
	return c.BroadcastTx(ctx, &tabellav1.BroadcastTxRequest{Tx: tx, WaitForCommit: wait})
}

// RejectionCode returns the ledger code carried by a gRPC error.
func RejectionCode(err error) (ledger.Code, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.Domain == "tabella.v1" {
			if n, err := strconv.ParseUint(ei.Metadata["code"], 10, 32); err == nil {
				return ledger.Code(n), true
			}
		}
	}
	return 0, false
}

// Describe renders an API error for people: the ledger's code and message
// when the ledger rejected something, the gRPC status otherwise.
func Describe(err error) string {
	if code, ok := RejectionCode(err); ok {
		return fmt.Sprintf("rejected (%s, code %d): %s", code, code, status.Convert(err).Message())
	}
	if st, ok := status.FromError(err); ok {
		return fmt.Sprintf("%s: %s", st.Code(), st.Message())
	}
	return err.Error()
}

// SaveCredential writes a signed credential as JSON.
func SaveCredential(path string, sc *tabellav1.SignedCredential) error {
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(sc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// LoadCredential reads a credential written by SaveCredential.
func LoadCredential(path string) (*tabellav1.SignedCredential, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sc tabellav1.SignedCredential
	if err := protojson.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("credential file %s: %w", path, err)
	}
	return &sc, nil
}
