FLASK_APP=server
