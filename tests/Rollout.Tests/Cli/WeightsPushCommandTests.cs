using Rollout.Cli;
using Rollout.Engine;
using Rollout.Models.Checkpoints.Safetensors;
using Rollout.Server;
using Rollout.TestSupport;
using Rollout.Tests.WeightSync;

namespace Rollout.Tests.Cli;

/// <summary><c>rollout weights push</c> against a real server: one line per engine, and exit 0 only when every engine committed.</summary>
public class WeightsPushCommandTests
{
    const string Admin = "cli-admin";

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = RolloutCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    static string Checkpoint(Dictionary<string, TorchSharp.torch.Tensor> tensors)
    {
        string dir = TinyModels.TempFolder();
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        return dir;
    }

    [Fact]
    public async Task A_push_prints_each_engines_version_and_digest_and_a_refusal_exits_non_zero_with_the_reason()
    {
        using var b = WeightSets.Load(seed: 4321);
        var tensors = WeightSets.Tensors(b);
        await using var server = await RolloutServer.StartAsync(WeightSets.Load(seed: 1234), new EngineOptions { KvCacheBytes = 4 << 20 },
            new ServerOptions { Port = 0, AdminToken = Admin }, configureLogging: _ => { });
        string url = server.Address.ToString();

        var (code, output, error) = Run("weights", "push", Checkpoint(tensors), "--to", url, "--admin-token", Admin, "--version", "3", "--in-flight", "keep");
        Assert.True(code == 0, error);
        Assert.Contains("version 3, sha256 ", output);

        var stale = Run("weights", "push", Checkpoint(tensors), "--to", url, "--admin-token", Admin, "--version", "3");
        Assert.Equal(1, stale.Code);
        Assert.Contains("versions only move forward", stale.Err);

        var wrongToken = Run("weights", "push", Checkpoint(tensors), "--to", url, "--admin-token", "wrong");
        Assert.Equal(1, wrongToken.Code);
        Assert.Contains("401", wrongToken.Err);

        var missing = Run("weights", "push", Checkpoint(tensors.Where(t => t.Key != "model.norm.weight").ToDictionary()), "--to", url, "--admin-token", Admin);
        Assert.Equal(1, missing.Code);
        Assert.Contains("model.norm.weight", missing.Err);

        var partial = Run("weights", "push", Checkpoint(tensors.Where(t => t.Key == "model.norm.weight").ToDictionary()), "--to", url, "--admin-token", Admin, "--partial");
        Assert.True(partial.Code == 0, partial.Err);
        Assert.Contains("version 4", partial.Out);
    }

    [Fact]
    public void A_target_that_is_no_url_is_a_usage_error()
    {
        var (code, _, error) = Run("weights", "push", "/tmp", "--to", "ftp://x");
        Assert.Equal(2, code);
        Assert.StartsWith("error: --to: 'ftp://x'", error);
    }
}
