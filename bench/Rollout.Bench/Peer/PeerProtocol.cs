using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rollout.Bench.Peer;

/// <summary>The first line to the child: the model and the context layout.</summary>
sealed record PeerLoadRequest(string Model, int Threads, int ContextSize, int MaxSequences);

/// <summary>Every later line: one <see cref="LlamaCppJob"/>.</summary>
sealed record PeerJobRequest(PeerWorkload Workload, int[][] Prompts, int NewTokens, bool FirstStepLogits);

// Source-generated so the protocol works in trimmed and AOT-compiled hosts too (file-based apps are AOT by default).
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(PeerLoadRequest))]
[JsonSerializable(typeof(PeerJobRequest))]
[JsonSerializable(typeof(LlamaCppResult))]
sealed partial class PeerJson : JsonSerializerContext;
