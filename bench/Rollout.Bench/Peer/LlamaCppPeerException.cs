namespace Rollout.Bench.Peer;

/// <summary>The llama.cpp peer refused a request, timed out or died; the message carries its reason and recent stderr.</summary>
public sealed class LlamaCppPeerException(string message, Exception? inner = null) : Exception(message, inner);
