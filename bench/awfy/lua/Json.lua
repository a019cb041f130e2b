-- Json: a recursive-descent JSON parser (values, objects with a small hash
-- index over their names, arrays, strings with escapes, numbers, literals)
-- parsing a 17 KB message of a UI protocol. verifyResult checks that the
-- result is an object whose "head" is an object and whose "operations" is
-- an array of 156 elements.
local som = require("som")
local benchmark = require("benchmark")
local Vector = som.Vector
local byte, sub, char = string.byte, string.sub, string.char

local RAP_INPUT = table.concat({
  [==[{"head":{"requestCounter":4,"sessionId":"fe2b6a0c","timestamp":1792234567890},"operations"]==],
  [==[:[["destroy","w41"],["call","w34","setScrollPosition",{"x":-662,"y":901775,"ratio":0.0015,]==],
  [==["scale":-225.0,"zero":0.0}],["destroy","w43"],["call","w41","setScrollPosition",{"x":-569,]==],
  [==["y":441046,"ratio":0.0015,"scale":-225.0,"zero":0.0}],["call","w37","setScrollPosition",{"]==],
  [==[x":-862,"y":766025,"ratio":0.0015,"scale":-225.0,"zero":0.0}],["listen","w46",{"Selection"]==],
  [==[:true,"DefaultSelection":false,"Modify":null}],["listen","w47",{"Selection":true,"DefaultS]==],
  [==[election":false,"Modify":null}],["destroy","w48"],["destroy","w49"],["create","w50","rwt.w]==],
  [==[idgets.Grid",{"parent":"w8","style":["NONE","BORDER"],"bounds":[460,11,252,161],"children"]==],
  [==[:[],"tabIndex":-1,"font":[["Verdana","Lucida Sans","Arial"],10,false,false],"clientArea":[]==],
  [==[0,0,1008,533],"text":"Item \"50\"\t/ \\ end"}],["set","w27",{"activeControl":"w51","visibi]==],
  [==[lity":true,"enabled":false}],["create","w52","rwt.widgets.Grid",{"parent":"w24","style":["]==],
  [==[NONE","BORDER"],"bounds":[365,385,263,40],"children":[],"tabIndex":-1,"font":[["Verdana","]==],
  [==[Lucida Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"52\"\t/ \]==],
  [==[\ end"}],["set","w53",{"items":["alpha","beta","gamma 53","\u00e9t\u00e9"],"selectionStart]==],
  [==[":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["destroy","w54"],["call","w20","setScrollPosition",{]==],
  [==["x":-294,"y":479668,"ratio":0.0015,"scale":-225.0,"zero":0.0}],["set","w43",{"activeContro]==],
  [==[l":"w56","visibility":true,"enabled":false}],["set","w57",{"items":["alpha","beta","gamma ]==],
  [==[57","\u00e9t\u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["call","w21","se]==],
  [==[tScrollPosition",{"x":-25,"y":888976,"ratio":0.0015,"scale":-225.0,"zero":0.0}],["set","w5]==],
  [==[9",{"items":["alpha","beta","gamma 59","\u00e9t\u00e9"],"selectionStart":0,"cells":[[1,2],]==],
  [==[[3,[4,[5]]],{}]}],["create","w60","rwt.widgets.Text",{"parent":"w31","style":["NONE","BORD]==],
  [==[ER"],"bounds":[432,92,300,284],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans]==],
  [==[","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"60\"\t/ \\ end"}],["]==],
  [==[listen","w61",{"Selection":true,"DefaultSelection":false,"Modify":null}],["destroy","w62"]]==],
  [==[,["call","w53","setScrollPosition",{"x":-768,"y":908858,"ratio":0.0015,"scale":-225.0,"zer]==],
  [==[o":0.0}],["call","w58","setScrollPosition",{"x":-502,"y":417488,"ratio":0.0015,"scale":-22]==],
  [==[5.0,"zero":0.0}],["call","w18","setScrollPosition",{"x":-864,"y":440366,"ratio":0.0015,"sc]==],
  [==[ale":-225.0,"zero":0.0}],["call","w63","setScrollPosition",{"x":-525,"y":543148,"ratio":0.]==],
  [==[0015,"scale":-225.0,"zero":0.0}],["destroy","w67"],["set","w8",{"activeControl":"w68","vis]==],
  [==[ibility":true,"enabled":false}],["set","w69",{"items":["alpha","beta","gamma 69","\u00e9t\]==],
  [==[u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["set","w70",{"items":["alpha"]==],
  [==[,"beta","gamma 70","\u00e9t\u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["]==],
  [==[set","w71",{"items":["alpha","beta","gamma 71","\u00e9t\u00e9"],"selectionStart":0,"cells"]==],
  [==[:[[1,2],[3,[4,[5]]],{}]}],["listen","w72",{"Selection":true,"DefaultSelection":false,"Modi]==],
  [==[fy":null}],["listen","w73",{"Selection":true,"DefaultSelection":false,"Modify":null}],["de]==],
  [==[stroy","w74"],["set","w75",{"items":["alpha","beta","gamma 75","\u00e9t\u00e9"],"selection]==],
  [==[Start":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["set","w76",{"items":["alpha","beta","gamma 76"]==],
  [==[,"\u00e9t\u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["create","w77","rwt]==],
  [==[.widgets.ScrolledComposite",{"parent":"w73","style":["NONE","BORDER"],"bounds":[411,315,33]==],
  [==[2,257],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans","Arial"],10,false,fals]==],
  [==[e],"clientArea":[0,0,1008,533],"text":"Item \"77\"\t/ \\ end"}],["set","w78",{"items":["al]==],
  [==[pha","beta","gamma 78","\u00e9t\u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}]==],
  [==[],["listen","w79",{"Selection":true,"DefaultSelection":false,"Modify":null}],["set","w39",]==],
  [==[{"activeControl":"w80","visibility":true,"enabled":false}],["create","w81","rwt.widgets.Gr]==],
  [==[id",{"parent":"w3","style":["NONE","BORDER"],"bounds":[33,153,306,235],"children":[],"tabI]==],
  [==[ndex":-1,"font":[["Verdana","Lucida Sans","Arial"],10,false,false],"clientArea":[0,0,1008,]==],
  [==[533],"text":"Item \"81\"\t/ \\ end"}],["call","w64","setScrollPosition",{"x":-368,"y":9662]==],
  [==[72,"ratio":0.0015,"scale":-225.0,"zero":0.0}],["set","w35",{"activeControl":"w83","visibil]==],
  [==[ity":true,"enabled":false}],["set","w84",{"items":["alpha","beta","gamma 84","\u00e9t\u00e]==],
  [==[9"],"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["listen","w85",{"Selection":true,]==],
  [==["DefaultSelection":false,"Modify":null}],["listen","w86",{"Selection":true,"DefaultSelecti]==],
  [==[on":false,"Modify":null}],["call","w86","setScrollPosition",{"x":-929,"y":35253,"ratio":0.]==],
  [==[0015,"scale":-225.0,"zero":0.0}],["create","w88","rwt.widgets.Text",{"parent":"w42","style]==],
  [==[":["NONE","BORDER"],"bounds":[468,100,353,264],"children":[],"tabIndex":-1,"font":[["Verda]==],
  [==[na","Lucida Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"88\"]==],
  [==[\t/ \\ end"}],["create","w89","rwt.widgets.Grid",{"parent":"w59","style":["NONE","BORDER"]]==],
  [==[,"bounds":[187,435,246,33],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans","A]==],
  [==[rial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"89\"\t/ \\ end"}],["set"]==],
  [==[,"w90",{"items":["alpha","beta","gamma 90","\u00e9t\u00e9"],"selectionStart":0,"cells":[[1]==],
  [==[,2],[3,[4,[5]]],{}]}],["listen","w91",{"Selection":true,"DefaultSelection":false,"Modify":]==],
  [==[null}],["destroy","w92"],["set","w93",{"items":["alpha","beta","gamma 93","\u00e9t\u00e9"]]==],
  [==[,"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["set","w59",{"activeControl":"w94","]==],
  [==[visibility":true,"enabled":false}],["destroy","w95"],["destroy","w96"],["call","w71","setS]==],
  [==[crollPosition",{"x":-954,"y":876981,"ratio":0.0015,"scale":-225.0,"zero":0.0}],["destroy",]==],
  [==["w98"],["set","w33",{"activeControl":"w99","visibility":true,"enabled":false}],["destroy",]==],
  [==["w100"],["destroy","w101"],["call","w36","setScrollPosition",{"x":-684,"y":794465,"ratio":]==],
  [==[0.0015,"scale":-225.0,"zero":0.0}],["set","w103",{"items":["alpha","beta","gamma 103","\u0]==],
  [==[0e9t\u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["set","w2",{"activeContr]==],
  [==[ol":"w104","visibility":true,"enabled":false}],["create","w105","rwt.widgets.Text",{"paren]==],
  [==[t":"w87","style":["NONE","BORDER"],"bounds":[597,588,354,70],"children":[],"tabIndex":-1,"]==],
  [==[font":[["Verdana","Lucida Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text]==],
  [==[":"Item \"105\"\t/ \\ end"}],["call","w30","setScrollPosition",{"x":-484,"y":616494,"ratio]==],
  [==[":0.0015,"scale":-225.0,"zero":0.0}],["set","w78",{"activeControl":"w107","visibility":tru]==],
  [==[e,"enabled":false}],["set","w108",{"items":["alpha","beta","gamma 108","\u00e9t\u00e9"],"s]==],
  [==[electionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["create","w109","rwt.widgets.Label",{"p]==],
  [==[arent":"w12","style":["NONE","BORDER"],"bounds":[427,163,301,157],"children":[],"tabIndex"]==],
  [==[:-1,"font":[["Verdana","Lucida Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],]==],
  [==["text":"Item \"109\"\t/ \\ end"}],["call","w54","setScrollPosition",{"x":-399,"y":847244,"]==],
  [==[ratio":0.0015,"scale":-225.0,"zero":0.0}],["set","w68",{"activeControl":"w111","visibility]==],
  [==[":true,"enabled":false}],["set","w50",{"activeControl":"w112","visibility":true,"enabled":]==],
  [==[false}],["destroy","w113"],["listen","w114",{"Selection":true,"DefaultSelection":false,"Mo]==],
  [==[dify":null}],["destroy","w115"],["create","w116","rwt.widgets.Composite",{"parent":"w84","]==],
  [==[style":["NONE","BORDER"],"bounds":[361,26,262,244],"children":[],"tabIndex":-1,"font":[["V]==],
  [==[erdana","Lucida Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"]==],
  [==[116\"\t/ \\ end"}],["create","w117","rwt.widgets.Button",{"parent":"w89","style":["NONE","]==],
  [==[BORDER"],"bounds":[310,460,63,255],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida ]==],
  [==[Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"117\"\t/ \\ end"]==],
  [==[}],["listen","w118",{"Selection":true,"DefaultSelection":false,"Modify":null}],["call","w1]==],
  [==[05","setScrollPosition",{"x":-174,"y":161365,"ratio":0.0015,"scale":-225.0,"zero":0.0}],["]==],
  [==[call","w68","setScrollPosition",{"x":-211,"y":454670,"ratio":0.0015,"scale":-225.0,"zero":]==],
  [==[0.0}],["call","w45","setScrollPosition",{"x":-469,"y":627278,"ratio":0.0015,"scale":-225.0]==],
  [==[,"zero":0.0}],["set","w88",{"activeControl":"w122","visibility":true,"enabled":false}],["s]==],
  [==[et","w123",{"items":["alpha","beta","gamma 123","\u00e9t\u00e9"],"selectionStart":0,"cells]==],
  [==[":[[1,2],[3,[4,[5]]],{}]}],["call","w53","setScrollPosition",{"x":-34,"y":204990,"ratio":0]==],
  [==[.0015,"scale":-225.0,"zero":0.0}],["set","w125",{"items":["alpha","beta","gamma 125","\u00]==],
  [==[e9t\u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["set","w7",{"activeContro]==],
  [==[l":"w126","visibility":true,"enabled":false}],["set","w127",{"items":["alpha","beta","gamm]==],
  [==[a 127","\u00e9t\u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["destroy","w1]==],
  [==[28"],["set","w129",{"items":["alpha","beta","gamma 129","\u00e9t\u00e9"],"selectionStart":]==],
  [==[0,"cells":[[1,2],[3,[4,[5]]],{}]}],["listen","w130",{"Selection":true,"DefaultSelection":f]==],
  [==[alse,"Modify":null}],["set","w57",{"activeControl":"w131","visibility":true,"enabled":fals]==],
  [==[e}],["call","w37","setScrollPosition",{"x":-164,"y":693342,"ratio":0.0015,"scale":-225.0,"]==],
  [==[zero":0.0}],["set","w101",{"activeControl":"w133","visibility":true,"enabled":false}],["cr]==],
  [==[eate","w134","rwt.widgets.Composite",{"parent":"w110","style":["NONE","BORDER"],"bounds":[]==],
  [==[545,424,197,157],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans","Arial"],10,]==],
  [==[false,false],"clientArea":[0,0,1008,533],"text":"Item \"134\"\t/ \\ end"}],["set","w90",{"]==],
  [==[activeControl":"w135","visibility":true,"enabled":false}],["set","w69",{"activeControl":"w]==],
  [==[136","visibility":true,"enabled":false}],["listen","w137",{"Selection":true,"DefaultSelect]==],
  [==[ion":false,"Modify":null}],["listen","w138",{"Selection":true,"DefaultSelection":false,"Mo]==],
  [==[dify":null}],["listen","w139",{"Selection":true,"DefaultSelection":false,"Modify":null}],[]==],
  [==["create","w140","rwt.widgets.Composite",{"parent":"w134","style":["NONE","BORDER"],"bounds]==],
  [==[":[493,455,270,269],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans","Arial"],]==],
  [==[10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"140\"\t/ \\ end"}],["create","w]==],
  [==[141","rwt.widgets.Composite",{"parent":"w26","style":["NONE","BORDER"],"bounds":[219,236,4]==],
  [==[8,233],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans","Arial"],10,false,fals]==],
  [==[e],"clientArea":[0,0,1008,533],"text":"Item \"141\"\t/ \\ end"}],["set","w142",{"items":["]==],
  [==[alpha","beta","gamma 142","\u00e9t\u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{]==],
  [==[}]}],["listen","w143",{"Selection":true,"DefaultSelection":false,"Modify":null}],["set","w]==],
  [==[144",{"items":["alpha","beta","gamma 144","\u00e9t\u00e9"],"selectionStart":0,"cells":[[1,]==],
  [==[2],[3,[4,[5]]],{}]}],["destroy","w145"],["set","w92",{"activeControl":"w146","visibility":]==],
  [==[true,"enabled":false}],["call","w139","setScrollPosition",{"x":-221,"y":115021,"ratio":0.0]==],
  [==[015,"scale":-225.0,"zero":0.0}],["call","w73","setScrollPosition",{"x":-569,"y":787738,"ra]==],
  [==[tio":0.0015,"scale":-225.0,"zero":0.0}],["call","w56","setScrollPosition",{"x":-583,"y":30]==],
  [==[9015,"ratio":0.0015,"scale":-225.0,"zero":0.0}],["call","w70","setScrollPosition",{"x":-68]==],
  [==[6,"y":582729,"ratio":0.0015,"scale":-225.0,"zero":0.0}],["set","w27",{"activeControl":"w15]==],
  [==[1","visibility":true,"enabled":false}],["create","w152","rwt.widgets.Composite",{"parent":]==],
  [==["w26","style":["NONE","BORDER"],"bounds":[446,175,351,31],"children":[],"tabIndex":-1,"fon]==],
  [==[t":[["Verdana","Lucida Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"]==],
  [==[Item \"152\"\t/ \\ end"}],["create","w153","rwt.widgets.ScrolledComposite",{"parent":"w49"]==],
  [==[,"style":["NONE","BORDER"],"bounds":[661,108,161,142],"children":[],"tabIndex":-1,"font":[]==],
  [==[["Verdana","Lucida Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item]==],
  [==[ \"153\"\t/ \\ end"}],["call","w18","setScrollPosition",{"x":-298,"y":977081,"ratio":0.001]==],
  [==[5,"scale":-225.0,"zero":0.0}],["create","w155","rwt.widgets.Composite",{"parent":"w43","st]==],
  [==[yle":["NONE","BORDER"],"bounds":[267,262,8,211],"children":[],"tabIndex":-1,"font":[["Verd]==],
  [==[ana","Lucida Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"155]==],
  [==[\"\t/ \\ end"}],["create","w156","rwt.widgets.Composite",{"parent":"w108","style":["NONE",]==],
  [==["BORDER"],"bounds":[15,58,121,12],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida S]==],
  [==[ans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"156\"\t/ \\ end"}]==],
  [==[],["create","w157","rwt.widgets.ScrolledComposite",{"parent":"w33","style":["NONE","BORDER]==],
  [==["],"bounds":[96,574,180,162],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans",]==],
  [==["Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"157\"\t/ \\ end"}],["l]==],
  [==[isten","w158",{"Selection":true,"DefaultSelection":false,"Modify":null}],["set","w159",{"i]==],
  [==[tems":["alpha","beta","gamma 159","\u00e9t\u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4]==],
  [==[,[5]]],{}]}],["listen","w160",{"Selection":true,"DefaultSelection":false,"Modify":null}],[]==],
  [==["call","w57","setScrollPosition",{"x":-608,"y":485144,"ratio":0.0015,"scale":-225.0,"zero"]==],
  [==[:0.0}],["listen","w162",{"Selection":true,"DefaultSelection":false,"Modify":null}],["set",]==],
  [==["w163",{"items":["alpha","beta","gamma 163","\u00e9t\u00e9"],"selectionStart":0,"cells":[[]==],
  [==[1,2],[3,[4,[5]]],{}]}],["call","w66","setScrollPosition",{"x":-398,"y":306059,"ratio":0.00]==],
  [==[15,"scale":-225.0,"zero":0.0}],["create","w165","rwt.widgets.Composite",{"parent":"w16","s]==],
  [==[tyle":["NONE","BORDER"],"bounds":[753,447,145,170],"children":[],"tabIndex":-1,"font":[["V]==],
  [==[erdana","Lucida Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"]==],
  [==[165\"\t/ \\ end"}],["create","w166","rwt.widgets.Button",{"parent":"w33","style":["NONE","]==],
  [==[BORDER"],"bounds":[304,426,300,11],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida ]==],
  [==[Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"166\"\t/ \\ end"]==],
  [==[}],["call","w89","setScrollPosition",{"x":-202,"y":588107,"ratio":0.0015,"scale":-225.0,"z]==],
  [==[ero":0.0}],["destroy","w168"],["set","w160",{"activeControl":"w169","visibility":true,"ena]==],
  [==[bled":false}],["destroy","w170"],["destroy","w171"],["call","w92","setScrollPosition",{"x"]==],
  [==[:-611,"y":679365,"ratio":0.0015,"scale":-225.0,"zero":0.0}],["set","w173",{"items":["alpha]==],
  [==[","beta","gamma 173","\u00e9t\u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],]==],
  [==[["destroy","w174"],["call","w34","setScrollPosition",{"x":-364,"y":435471,"ratio":0.0015,"]==],
  [==[scale":-225.0,"zero":0.0}],["listen","w176",{"Selection":true,"DefaultSelection":false,"Mo]==],
  [==[dify":null}],["set","w109",{"activeControl":"w177","visibility":true,"enabled":false}],["s]==],
  [==[et","w178",{"items":["alpha","beta","gamma 178","\u00e9t\u00e9"],"selectionStart":0,"cells]==],
  [==[":[[1,2],[3,[4,[5]]],{}]}],["set","w48",{"activeControl":"w179","visibility":true,"enabled]==],
  [==[":false}],["call","w9","setScrollPosition",{"x":-677,"y":752108,"ratio":0.0015,"scale":-22]==],
  [==[5.0,"zero":0.0}],["call","w177","setScrollPosition",{"x":-568,"y":416136,"ratio":0.0015,"s]==],
  [==[cale":-225.0,"zero":0.0}],["create","w182","rwt.widgets.Composite",{"parent":"w39","style"]==],
  [==[:["NONE","BORDER"],"bounds":[233,23,142,278],"children":[],"tabIndex":-1,"font":[["Verdana]==],
  [==[","Lucida Sans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"182\"\]==],
  [==[t/ \\ end"}],["listen","w183",{"Selection":true,"DefaultSelection":false,"Modify":null}],[]==],
  [==["create","w184","rwt.widgets.Label",{"parent":"w82","style":["NONE","BORDER"],"bounds":[14]==],
  [==[1,91,284,20],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans","Arial"],10,fals]==],
  [==[e,false],"clientArea":[0,0,1008,533],"text":"Item \"184\"\t/ \\ end"}],["set","w185",{"ite]==],
  [==[ms":["alpha","beta","gamma 185","\u00e9t\u00e9"],"selectionStart":0,"cells":[[1,2],[3,[4,[]==],
  [==[5]]],{}]}],["create","w186","rwt.widgets.Grid",{"parent":"w89","style":["NONE","BORDER"],"]==],
  [==[bounds":[648,532,163,29],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans","Ari]==],
  [==[al"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"186\"\t/ \\ end"}],["set",]==],
  [==["w187",{"items":["alpha","beta","gamma 187","\u00e9t\u00e9"],"selectionStart":0,"cells":[[]==],
  [==[1,2],[3,[4,[5]]],{}]}],["set","w188",{"items":["alpha","beta","gamma 188","\u00e9t\u00e9"]]==],
  [==[,"selectionStart":0,"cells":[[1,2],[3,[4,[5]]],{}]}],["listen","w189",{"Selection":true,"D]==],
  [==[efaultSelection":false,"Modify":null}],["set","w175",{"activeControl":"w190","visibility":]==],
  [==[true,"enabled":false}],["call","w40","setScrollPosition",{"x":-949,"y":781391,"ratio":0.00]==],
  [==[15,"scale":-225.0,"zero":0.0}],["listen","w192",{"Selection":true,"DefaultSelection":false]==],
  [==[,"Modify":null}],["create","w193","rwt.widgets.Button",{"parent":"w61","style":["NONE","BO]==],
  [==[RDER"],"bounds":[575,282,103,192],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida S]==],
  [==[ans","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"193\"\t/ \\ end"}]==],
  [==[],["create","w194","rwt.widgets.ScrolledComposite",{"parent":"w119","style":["NONE","BORDE]==],
  [==[R"],"bounds":[652,468,243,298],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans]==],
  [==[","Arial"],10,false,false],"clientArea":[0,0,1008,533],"text":"Item \"194\"\t/ \\ end"}],[]==],
  [==["create","w195","rwt.widgets.Label",{"parent":"w50","style":["NONE","BORDER"],"bounds":[16]==],
  [==[2,420,249,3],"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans","Arial"],10,fals]==],
  [==[e,false],"clientArea":[0,0,1008,533],"text":"Item \"195\"\t/ \\ end"}],["create","w196","r]==],
  [==[wt.widgets.Composite",{"parent":"w135","style":["NONE","BORDER"],"bounds":[719,418,328,89]]==],
  [==[,"children":[],"tabIndex":-1,"font":[["Verdana","Lucida Sans","Arial"],10,false,false],"cl]==],
  [==[ientArea":[0,0,1008,533],"text":"Item \"196\"\t/ \\ end"}]]}]==]
})

local JsonValue = som.class()
function JsonValue:isObject() return false end
function JsonValue:isArray() return false end

-- The index of an object's names: 32 slots holding index + 1 of the last
-- name that hashed there (0: none or too far), checked against the names.
local HashIndexTable = som.class()

function HashIndexTable.new()
  -- 32 slots, 0 to 31
  return setmetatable({hashTable = {[0] = 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}, HashIndexTable)
end

local function stringHash(s)
  local h = 0
  for i = 1, #s do h = (h * 31 + byte(s, i)) % 4294967296 end
  return h
end

local function hashSlotFor(element)
  return som.band(stringHash(element), 31)
end

function HashIndexTable:add(name, index)
  local slot = hashSlotFor(name)
  if index < 255 then
    self.hashTable[slot] = som.band(index + 1, 255)
  else
    self.hashTable[slot] = 0
  end
end

function HashIndexTable:get(name)
  return som.band(self.hashTable[hashSlotFor(name)], 255) - 1
end

local JsonObject = som.class(JsonValue)

function JsonObject.new()
  return setmetatable({names = Vector.new(), values = Vector.new(),
                       table = HashIndexTable.new()}, JsonObject)
end

function JsonObject:add(name, value)
  self.table:add(name, self.names:size())
  self.names:append(name)
  self.values:append(value)
end

function JsonObject:indexOf(name)
  local index = self.table:get(name)
  if index ~= -1 and name == self.names:at(index) then return index end
  for i = self.names:size() - 1, 0, -1 do
    if name == self.names:at(i) then return i end
  end
  return -1
end

function JsonObject:get(name)
  local index = self:indexOf(name)
  if index == -1 then return nil end
  return self.values:at(index)
end

function JsonObject:isObject() return true end

local JsonArray = som.class(JsonValue)
function JsonArray.new() return setmetatable({values = Vector.new()}, JsonArray) end
function JsonArray:add(value) self.values:append(value) end
function JsonArray:size() return self.values:size() end
function JsonArray:isArray() return true end

local JsonString = som.class(JsonValue)
function JsonString.new(s) return setmetatable({string = s}, JsonString) end

local JsonNumber = som.class(JsonValue)
function JsonNumber.new(s) return setmetatable({string = s}, JsonNumber) end

local JsonLiteral = som.class(JsonValue)
function JsonLiteral.new(s) return setmetatable({value = s}, JsonLiteral) end
local NULL, TRUE, FALSE =
  JsonLiteral.new("null"), JsonLiteral.new("true"), JsonLiteral.new("false")

local C_QUOTE, C_BACKSLASH, C_SLASH = byte('"'), byte("\\"), byte("/")
local C_LBRACE, C_RBRACE, C_LBRACKET, C_RBRACKET = byte("{"), byte("}"), byte("["), byte("]")
local C_COMMA, C_COLON, C_MINUS, C_PLUS, C_DOT = byte(","), byte(":"), byte("-"), byte("+"), byte(".")
local C_0, C_9, C_e, C_E = byte("0"), byte("9"), byte("e"), byte("E")
local C_a, C_f, C_A, C_F = byte("a"), byte("f"), byte("A"), byte("F")
local C_n, C_t, C_r, C_b, C_u, C_l, C_s = byte("n"), byte("t"), byte("r"), byte("b"), byte("u"), byte("l"), byte("s")

local Parser = som.class()

function Parser.new(input)
  return setmetatable({input = input, index = 0, current = -1,
                       captureBuffer = "", captureStart = -1}, Parser)
end

function Parser:parse()
  self:read()
  self:skipWhiteSpace()
  local result = self:readValue()
  self:skipWhiteSpace()
  if self.current ~= -1 then self:error("Unexpected character") end
  return result
end

function Parser:readValue()
  local c = self.current
  if c == C_n then return self:readLiteral("null", NULL)
  elseif c == C_t then return self:readLiteral("true", TRUE)
  elseif c == C_f then return self:readLiteral("false", FALSE)
  elseif c == C_QUOTE then return JsonString.new(self:readStringInternal())
  elseif c == C_LBRACKET then return self:readArray()
  elseif c == C_LBRACE then return self:readObject()
  elseif c == C_MINUS or (c >= C_0 and c <= C_9) then return self:readNumber()
  end
  self:expected("value")
end

function Parser:readArray()
  self:read()
  local array = JsonArray.new()
  self:skipWhiteSpace()
  if self:readChar(C_RBRACKET) then return array end
  repeat
    self:skipWhiteSpace()
    array:add(self:readValue())
    self:skipWhiteSpace()
  until not self:readChar(C_COMMA)
  if not self:readChar(C_RBRACKET) then self:expected("',' or ']'") end
  return array
end

function Parser:readObject()
  self:read()
  local object = JsonObject.new()
  self:skipWhiteSpace()
  if self:readChar(C_RBRACE) then return object end
  repeat
    self:skipWhiteSpace()
    if self.current ~= C_QUOTE then self:expected("name") end
    local name = self:readStringInternal()
    self:skipWhiteSpace()
    if not self:readChar(C_COLON) then self:expected("':'") end
    self:skipWhiteSpace()
    object:add(name, self:readValue())
    self:skipWhiteSpace()
  until not self:readChar(C_COMMA)
  if not self:readChar(C_RBRACE) then self:expected("',' or '}'") end
  return object
end

-- `true`, `false` or `null`, whose first byte is current.
function Parser:readLiteral(word, value)
  self:read()
  for i = 2, #word do
    if not self:readChar(byte(word, i)) then self:expected("'" .. sub(word, i, i) .. "'") end
  end
  return value
end

function Parser:readStringInternal()
  self:read()
  self:startCapture()
  while self.current ~= C_QUOTE do
    if self.current == C_BACKSLASH then
      self:pauseCapture()
      self:readEscape()
      self:startCapture()
    elseif self.current < 32 then
      self:expected("valid string character")
    else
      self:read()
    end
  end
  local s = self:endCapture()
  self:read()
  return s
end

function Parser:readEscape()
  self:read()
  local c = self.current
  if c == C_QUOTE or c == C_SLASH or c == C_BACKSLASH then
    self.captureBuffer = self.captureBuffer .. char(c)
  elseif c == C_b then self.captureBuffer = self.captureBuffer .. "\b"
  elseif c == C_f then self.captureBuffer = self.captureBuffer .. "\f"
  elseif c == C_n then self.captureBuffer = self.captureBuffer .. "\n"
  elseif c == C_r then self.captureBuffer = self.captureBuffer .. "\r"
  elseif c == C_t then self.captureBuffer = self.captureBuffer .. "\t"
  elseif c == C_u then
    local code = 0
    for _ = 1, 4 do
      self:read()
      local d = self.current
      if d >= C_0 and d <= C_9 then code = code * 16 + d - C_0
      elseif d >= C_a and d <= C_f then code = code * 16 + d - C_a + 10
      elseif d >= C_A and d <= C_F then code = code * 16 + d - C_A + 10
      else self:expected("hexadecimal digit") end
    end
    self.captureBuffer = self.captureBuffer .. char(code % 256)
  else
    self:expected("valid escape sequence")
  end
  self:read()
end

function Parser:readNumber()
  self:startCapture()
  self:readChar(C_MINUS)
  local firstDigit = self.current
  if not self:readDigit() then self:expected("digit") end
  if firstDigit ~= C_0 then
    while self:readDigit() do end
  end
  self:readFraction()
  self:readExponent()
  return JsonNumber.new(self:endCapture())
end

function Parser:readFraction()
  if not self:readChar(C_DOT) then return false end
  if not self:readDigit() then self:expected("digit") end
  while self:readDigit() do end
  return true
end

function Parser:readExponent()
  if not self:readChar(C_e) and not self:readChar(C_E) then return false end
  if not self:readChar(C_PLUS) then self:readChar(C_MINUS) end
  if not self:readDigit() then self:expected("digit") end
  while self:readDigit() do end
  return true
end

function Parser:readChar(ch)
  if self.current ~= ch then return false end
  self:read()
  return true
end

function Parser:readDigit()
  local c = self.current
  if c < C_0 or c > C_9 then return false end
  self:read()
  return true
end

function Parser:skipWhiteSpace()
  local c = self.current
  while c == 32 or c == 9 or c == 10 or c == 13 do
    self:read()
    c = self.current
  end
end

-- Moves to the next byte: current is the byte at index - 1, -1 at the end.
function Parser:read()
  if self.index == #self.input then
    self.index = self.index + 1
    self.current = -1
    return
  end
  self.index = self.index + 1
  self.current = byte(self.input, self.index)
end

function Parser:startCapture()
  self.captureStart = self.index - 1
end

function Parser:pauseCapture()
  local stop = self.index - 1
  if self.current == -1 then stop = self.index end
  self.captureBuffer = self.captureBuffer .. sub(self.input, self.captureStart + 1, stop)
  self.captureStart = -1
end

function Parser:endCapture()
  local stop = self.index - 1
  if self.current == -1 then stop = self.index end
  local captured
  if self.captureBuffer == "" then
    captured = sub(self.input, self.captureStart + 1, stop)
  else
    captured = self.captureBuffer .. sub(self.input, self.captureStart + 1, stop)
    self.captureBuffer = ""
  end
  self.captureStart = -1
  return captured
end

function Parser:expected(what)
  if self.current == -1 then self:error("Unexpected end of input") end
  self:error("Expected " .. what)
end

function Parser:error(message)
  error("ParseException: " .. message .. " at " .. self.index)
end

local function run() return Parser.new(RAP_INPUT):parse() end

local function verify(result)
  if not result:isObject() then return false end
  if not result:get("head"):isObject() then return false end
  if not result:get("operations"):isArray() then return false end
  return result:get("operations"):size() == 156
end

return {innerBenchmarkLoop = benchmark.loop(run, verify)}
