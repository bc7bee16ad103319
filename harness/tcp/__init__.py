"""TCP: the tester's peer (TcpPeer), the oracle that predicts what a target must send, the
segment classifier, the per-test case (TcpCase) and its ``tcp`` fixture."""
