using Rollout.Engine.Sequences;

namespace Rollout.Engine.Scheduling;

/// <summary>
/// A sequence's share of one step: tokens [NumComputedTokens, NumComputedTokens + NumTokens) are fed.
/// <paramref name="Samples"/> is true when they reach the sequence's last known token, so the model
/// must return logits for it (a prefill-only sequence ends there instead); a prefill chunk that stops
/// short does not sample.
/// </summary>
internal readonly record struct ScheduledSequence(Sequence Sequence, int NumTokens, bool Samples);
