namespace Rollout.Server.OpenAi;

/// <summary><c>GET /v1/models</c>: the one model this server serves.</summary>
internal static class ModelsEndpoint
{
    public static object Handle(EngineHost host) => new
    {
        @object = "list",
        data = new[]
        {
            new { id = host.Name, @object = "model", created = host.Created, owned_by = "rollout", max_model_len = host.MaxModelLength },
        },
    };
}
