using System.Net;
using MessagePack;
using Rollout.Server.Http;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels.Nccl;

namespace Rollout.Server.Rl;

/// <summary>
/// <c>POST /rl/weights/nccl</c> (admin token): the control channel of an NCCL update. The body is the
/// trainer's <see cref="NcclRendezvous"/>; the engine joins the communicator on CUDA device 0 (of those
/// <c>CUDA_VISIBLE_DEVICES</c> shows), receives the broadcasts, commits, and answers with the commit as
/// <c>POST /rl/weights</c> does. The trainer cutting the request aborts the update. NCCL is loaded on
/// the first such request, never at start-up.
/// </summary>
internal static class NcclWeightsEndpoint
{
    public static async Task ReceiveAsync(HttpContext context, EngineHost host)
    {
        if (!string.Equals(context.Request.ContentType, NcclRendezvous.ContentType, StringComparison.OrdinalIgnoreCase))
            throw new ApiException(HttpStatusCode.UnsupportedMediaType, $"send the rendezvous as {NcclRendezvous.ContentType} (docs/weight-sync.md)");
        NcclRendezvous rendezvous;
        try
        {
            rendezvous = await MessagePackSerializer.DeserializeAsync<NcclRendezvous>(context.Request.Body,
                MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData), context.RequestAborted);
        }
        catch (MessagePackSerializationException e)
        {
            throw ApiException.BadRequest($"the rendezvous is not a valid MessagePack map: {e.Message}", "rendezvous");
        }
        if (!NcclLibrary.TryLoad(out string reason))
            throw new ApiException(HttpStatusCode.ServiceUnavailable, $"NCCL is unavailable on this server: {reason}", "server_error");
        CommitResult result;
        try
        {
            result = await NcclUpdateReceiver.ReceiveAsync(host.Weights, rendezvous, device: 0, context.RequestAborted);
        }
        catch (WeightUpdateException e)
        {
            throw new ApiException(e is WeightUpdateBusyException ? HttpStatusCode.Conflict : HttpStatusCode.BadRequest, e.Message, param: "weights");
        }
        await context.Response.WriteAsJsonAsync(result, NcclWeightSender.AnswerJson, context.RequestAborted);
    }
}
