"""The mock account's web console, for responders who work in the browser.

`gameday console` (or `gameday run --console`) serves a small web application on 127.0.0.1:
IAM users and roles, EC2 instances in every region, CloudTrail event history, the Support
Center, Secrets Manager, and the team's inbox. Every page is marked SIMULATION. A responder
signs in with the run's console token, which the team's handout and `CONSOLE.txt` carry.

The console is a client of the mock account like the AWS CLI: every button is one AWS API
call made with boto3, signed with the team's own access key from the team's room
(`aws/credentials`) and sent to the endpoint of the team's profile (`aws/config`). The
gateway journals it as the responder's, CloudTrail shows it, and the score counts it exactly
as it counts the same call from the CLI. The console reads no file of the facilitator's.
"""

from gameday.console.server import ConsoleServer, serve_console

__all__ = ["ConsoleServer", "serve_console"]
