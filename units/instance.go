package units

// Instantiate returns the service of a template ("web@.service") made
// concrete for one instance: its name becomes "web@INSTANCE.service" and
// the specifiers %i, %I, %n, %N and %% that the template kept are
// expanded in every command, the environment, the working directory and
// the credentials (%n and %N to the instance's name, as in systemd). A
// service that is not a template is returned unchanged.
func (s Service) Instantiate(instance string) Service {
	if !s.IsTemplate() {
		return s
	}
	out := s
	out.Name = InstanceName(s.Name, instance)
	exp := func(v string) string { return instantiateString(v, out.Name, instance) }
	out.ExecStart = instantiateCommands(s.ExecStart, exp)
	out.ExecStartPre = instantiateCommands(s.ExecStartPre, exp)
	out.ExecStartPost = instantiateCommands(s.ExecStartPost, exp)
	out.ExecStop = instantiateCommands(s.ExecStop, exp)
	out.ExecReload = instantiateCommands(s.ExecReload, exp)
	out.ExecCondition = instantiateCommands(s.ExecCondition, exp)
	out.ExecStopPost = instantiateCommands(s.ExecStopPost, exp)
	for k := range out.Dirs.Paths {
		out.Dirs.Paths[k] = mapStrings(s.Dirs.Paths[k], exp)
	}
	out.Conditions = make([]Condition, len(s.Conditions))
	for i, c := range s.Conditions {
		c.Param = exp(c.Param)
		out.Conditions[i] = c
	}
	if s.Conditions == nil {
		out.Conditions = nil
	}
	out.Environment = mapStrings(s.Environment, exp)
	out.EnvironmentFiles = make([]EnvironmentFile, len(s.EnvironmentFiles))
	for i, f := range s.EnvironmentFiles {
		out.EnvironmentFiles[i] = EnvironmentFile{Path: exp(f.Path), Optional: f.Optional}
	}
	out.WorkingDirectory = exp(s.WorkingDirectory)
	out.User, out.Group = exp(s.User), exp(s.Group)
	out.SupplementaryGroups = mapStrings(s.SupplementaryGroups, exp)
	out.Description = exp(s.Description)
	out.StandardOutput.Path = exp(s.StandardOutput.Path)
	out.StandardError.Path = exp(s.StandardError.Path)
	return out
}

func instantiateCommands(cmds []Command, exp func(string) string) []Command {
	if cmds == nil {
		return nil
	}
	out := make([]Command, len(cmds))
	for i, c := range cmds {
		out[i] = Command{Path: exp(c.Path), Argv: mapStrings(c.Argv, exp), IgnoreFailure: c.IgnoreFailure, NoEnvExpand: c.NoEnvExpand}
	}
	return out
}

func mapStrings(in []string, f func(string) string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}
