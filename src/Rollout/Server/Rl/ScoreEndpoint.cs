using Rollout.Engine.Sampling;
using Rollout.Server.Http;

namespace Rollout.Server.Rl;

/// <summary>
/// <c>POST /rl/score</c>: the logprob of every completion token given everything before it, under the policy's
/// current weights or the reference model's, raw or after <c>sampling</c>'s transforms; nothing is sampled.
/// Every sequence is checked before any is queued; then they run together in the engine. JSON or MessagePack,
/// answered in the encoding it came in.
/// </summary>
internal static class ScoreEndpoint
{
    public static async Task HandleAsync(HttpContext context, EngineHost host)
    {
        var ct = context.RequestAborted;
        var body = await RequestBody.ReadAsync(context.Request, ct);
        var engine = body.String("model") switch
        {
            null or "policy" => host.Engine,
            "reference" => host.Reference ?? throw ApiException.BadRequest("this server has no reference model: start it with --reference-model DIR", "model"),
            var other => throw ApiException.BadRequest($"model must be policy or reference, not '{other}'", "model"),
        };
        var mode = body.String("logprobs_mode") switch
        {
            null or "raw" => LogprobsMode.Raw,
            "processed" => LogprobsMode.Processed,
            var other => throw ApiException.BadRequest($"logprobs_mode must be raw or processed, not '{other}'", "logprobs_mode"),
        };
        int vocab = engine.Model.Config.VocabSize;
        var processing = body.Object("sampling") is { } sampling ? SamplingFields.Read(sampling, LogprobsStyle.Count, vocab) : null;
        var sequences = SequencesField.Read(body, vocab, host.Options.MaxRequestSequences);
        for (int i = 0; i < sequences.Length; i++)
        {
            try
            {
                engine.ValidateScore(sequences[i].PromptIds, sequences[i].CompletionIds, mode, processing);
            }
            catch (InvalidSamplingParametersException e)
            {
                throw ApiException.BadRequest(e.Message, "sampling." + e.ParameterName);
            }
            catch (ArgumentException e)
            {
                throw ApiException.BadRequest(e, $"sequences[{i}].{(e.ParamName == "promptTokenIds" ? "prompt_ids" : "completion_ids")}");
            }
        }

        var scores = await Task.WhenAll(sequences.Select(s => engine.ScoreAsync(s.PromptIds, s.CompletionIds, mode, processing, ct)));
        var response = new RlScoreResponse
        {
            Results = scores.Select(s => new RlScoreResult { Logprobs = s.Logprobs, WeightVersion = s.WeightVersion }).ToArray(),
        };
        await RlEncoding.WriteAsync(context, response, body.IsMessagePack, ct);
    }
}
