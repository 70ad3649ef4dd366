using Rollout.Server.Http;

namespace Rollout.Server.Rl;

/// <summary>
/// <c>POST /rl/reward</c>: the reward model's score of each prompt and completion (its head at the last token).
/// Every sequence is checked before any is queued; then they run together in the reward model's engine. JSON
/// or MessagePack, answered in the encoding it came in.
/// </summary>
internal static class RewardEndpoint
{
    public static async Task HandleAsync(HttpContext context, EngineHost host)
    {
        var ct = context.RequestAborted;
        var body = await RequestBody.ReadAsync(context.Request, ct);
        var engine = host.Rewards ?? throw ApiException.BadRequest("this server has no reward model: start it with --reward-model DIR");
        var sequences = SequencesField.Read(body, engine.Model.Config.VocabSize, host.Options.MaxRequestSequences);
        var tokens = sequences.Select(s => (int[])[.. s.PromptIds, .. s.CompletionIds]).ToArray();
        for (int i = 0; i < tokens.Length; i++)
        {
            try
            {
                engine.ValidateReward(tokens[i]);
            }
            catch (ArgumentException e)
            {
                throw ApiException.BadRequest(e, $"sequences[{i}]");
            }
        }

        var rewards = await Task.WhenAll(tokens.Select(t => engine.RewardAsync(t, ct)));
        var response = new RlRewardResponse
        {
            Results = rewards.Select(r => new RlRewardResult { Reward = r.Reward, WeightVersion = r.WeightVersion }).ToArray(),
        };
        await RlEncoding.WriteAsync(context, response, body.IsMessagePack, ct);
    }
}
