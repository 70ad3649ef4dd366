using Rollout.Cli;

return RolloutCli.Run(args, Console.Out, Console.Error);
